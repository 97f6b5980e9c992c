// Live change notifications. One `watch` per client, shared by every listener: the node
// that answered it pushes each applied change on that connection. When the connection
// drops, the watch is sent again, from the last cursor seen, to whichever node answers,
// so no change is missed; pushes the client has already seen are skipped by cursor.

import { isRetryable } from './client-errors.ts';
import type { ClusterRouter } from './client-router.ts';
import { raftboxError } from './errors.ts';
import type { FileInfo, PushFrame } from './wire.ts';

/** Most listeners one client may register with `watch`. */
export const watchListenersMax = 1024;

type Listener = { onChange: (info: FileInfo) => void };

/**
 * Keeps one watch alive while any listener is subscribed. `cursor` is the change-feed
 * position of the last change delivered (null before the first watch is answered): a
 * re-watch asks the node to push everything after it.
 */
export class ChangeWatcher {
  private readonly router: ClusterRouter;
  private readonly listeners = new Set<Listener>();
  private cursor: number | null = null;
  private watchUrl: string | null = null;
  // Bumped on every (re)start and stop, so a loop from an older start knows it is obsolete.
  private generation = 0;

  constructor(router: ClusterRouter) {
    this.router = router;
    router.onPush = (_url, frame) => this.onPush(frame);
    router.onConnectionClosed = (url) => this.onConnectionClosed(url);
  }

  /** Records a cursor the client learned elsewhere (from `changes`), so a new watch starts there. */
  noteCursor(cursor: number): void {
    if (this.listeners.size === 0 && (this.cursor === null || cursor > this.cursor)) this.cursor = cursor;
  }

  /** Adds a listener, starting the watch if it is the first; returns the function that removes it. */
  subscribe(onChange: (info: FileInfo) => void): () => void {
    if (this.listeners.size >= watchListenersMax) {
      throw raftboxError('overloaded', `this client already has ${watchListenersMax} watch listeners; share one or unsubscribe some`);
    }
    const listener: Listener = { onChange };
    this.listeners.add(listener);
    if (this.listeners.size === 1) void this.start();
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      this.generation++;
      const url = this.watchUrl;
      this.watchUrl = null;
      if (url !== null) void this.router.tellIfConnected(url, { op: 'unwatch' });
    };
  }

  private onPush(frame: PushFrame): void {
    if (this.listeners.size === 0 || (this.cursor !== null && frame.cursor <= this.cursor)) return;
    this.cursor = frame.cursor;
    for (const info of frame.changes) {
      for (const listener of [...this.listeners]) {
        try {
          listener.onChange(info);
        } catch {
          // One listener's bug must not starve the others or kill the watch.
        }
      }
    }
  }

  private onConnectionClosed(url: string): void {
    if (url !== this.watchUrl || this.listeners.size === 0) return;
    this.watchUrl = null;
    void this.start();
  }

  // Retries forever (with backoff) while someone listens: a watch has no caller to fail to.
  private async start(): Promise<void> {
    const generation = ++this.generation;
    for (let attempt = 0; generation === this.generation && !this.router.isClosed; attempt++) {
      try {
        const request = this.cursor === null ? { op: 'watch' as const } : { op: 'watch' as const, cursor: this.cursor };
        const { result, url } = await this.router.metadata(request);
        if (generation !== this.generation) return void this.router.tellIfConnected(url, { op: 'unwatch' });
        this.cursor ??= result.cursor;
        this.watchUrl = url;
        // The connection may have closed between the answer and now, unseen by onConnectionClosed.
        if (this.router.isConnected(url)) return;
        this.watchUrl = null;
      } catch (error) {
        // A node that refuses the cursor itself (collected from the feed) gets a watch from now on.
        if (!isRetryable(error)) this.cursor = null;
      }
      if (this.router.isClosed) return;
      await this.router.sleep(this.router.backoffMs(attempt)).catch(() => undefined);
    }
  }
}
