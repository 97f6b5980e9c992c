// What the page shows under "Transfers": each file being hashed and stored, then sent to
// the cluster, with its bytes done, and a total. Finished rows are kept for a while so the
// user sees them.

import type { FileProgress } from '../../protocol/sync-engine.ts';

/** Rows kept; the oldest finished rows go first past this. */
export const transferRowsMax = 200;

/** `stored`: in this tab's replica, waiting for the sync; `uploading` and `synced`: on its way to, and in, the cluster. */
export type TransferState = 'waiting' | 'hashing' | 'stored' | 'uploading' | 'synced' | 'failed' | 'cancelled';

export interface Transfer {
  path: string;
  /** Bytes of the file, and how many are hashed. */
  bytesTotal: number;
  bytesDone: number;
  /** Bytes the sync sends for this file (blocks the cluster lacked), and how many it sent. */
  uploadTotal: number;
  uploadDone: number;
  state: TransferState;
  error?: string;
}

/** States in which a row is still moving. */
const activeStates: ReadonlySet<TransferState> = new Set(['waiting', 'hashing', 'uploading']);

export class Transfers {
  private readonly rows = new Map<string, Transfer>();
  constructor(private readonly onChange: () => void) {}

  /** Adds or restarts the row of `path`. */
  start(path: string, bytesTotal: number): Transfer {
    this.rows.delete(path);
    const row: Transfer = { path, bytesTotal, bytesDone: 0, uploadTotal: 0, uploadDone: 0, state: 'waiting' };
    this.rows.set(path, row);
    this.trim();
    this.onChange();
    return row;
  }

  update(row: Transfer, change: Partial<Transfer>): void {
    Object.assign(row, change);
    this.onChange();
  }

  /** The sync's word on a file: a row added in this tab moves on to uploading, then synced. */
  fileProgress(progress: FileProgress): void {
    const row = this.rows.get(progress.path);
    if (row === undefined || (row.state !== 'stored' && row.state !== 'uploading')) return;
    if (progress.state === 'synced') this.update(row, { state: 'synced', uploadDone: row.uploadTotal });
    else this.update(row, { state: 'uploading', uploadDone: progress.bytesDone, uploadTotal: progress.bytesTotal });
  }

  list(): Transfer[] {
    return [...this.rows.values()];
  }

  /** Whether any row is still in progress. */
  get active(): boolean {
    return this.list().some((row) => activeStates.has(row.state));
  }

  clearFinished(): void {
    for (const [path, row] of this.rows) if (!activeStates.has(row.state)) this.rows.delete(path);
    this.onChange();
  }

  private trim(): void {
    for (const [path, row] of this.rows) {
      if (this.rows.size <= transferRowsMax) return;
      if (!activeStates.has(row.state)) this.rows.delete(path);
    }
  }
}
