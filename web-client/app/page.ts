// The page: starts the services, draws the panels from the replica, and turns the user's
// drops, picks and clicks into edits. Redraws are coalesced, so a burst of progress
// events costs one redraw per frame.

import { readDataTransfer, readFileList, type Picked } from '../drop/read-drop.ts';
import { sentenceOf, type SyncState } from '../sync/sync-controller.ts';
import { conflictsView } from '../ui/conflicts-view.ts';
import { askName, showHistory, showPreview } from '../ui/dialogs.ts';
import { replaceChildren } from '../ui/dom.ts';
import { fileList, folderTree, type FileListActions } from '../ui/file-list-view.ts';
import { folderOf, nameOf } from '../ui/format.ts';
import { transfersView } from '../ui/transfers-view.ts';
import { addPicked } from './add-files.ts';
import { deleteFile, downloadVersion, localBlob, renameFile, restoreVersion, saveBlob, saveText, settleConflict } from './file-actions.ts';
import { startServices, type Services } from './services.ts';
import { readSnapshot, type Snapshot } from './snapshot.ts';
import { Transfers } from './transfers.ts';
import { makeFolder } from '../store/local-edits.ts';

function element<T extends HTMLElement = HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (found === null) throw new Error(`the page lacks ${selector}`);
  return found;
}

export class Page {
  private folder = '';
  private snapshot: Snapshot = { rows: new Map(), conflicts: [], pendingEdits: 0 };
  private syncState: SyncState | null = null;
  private readonly transfers = new Transfers(() => this.redraw());
  private adding = new AbortController();
  private redrawing: Promise<void> | null = null;
  private redrawAgain = false;
  private message = '';

  private constructor(private readonly services: Services) {}

  /** Starts the app in the current document. */
  static async start(): Promise<Page> {
    let page: Page | null = null;
    const services = await startServices(
      (state) => {
        if (page === null) return;
        page.syncState = state;
        page.redraw();
      },
      (progress) => page?.transfers.fileProgress(progress),
    );
    page = new Page(services);
    page.bind();
    services.sync.start();
    page.redraw();
    return page;
  }

  private bind(): void {
    const input = element<HTMLInputElement>('#add-files');
    input.addEventListener('change', () => {
      if (input.files !== null) void this.add(readFileList(input.files));
      input.value = '';
    });
    const folderInput = element<HTMLInputElement>('#add-folder');
    folderInput.addEventListener('change', () => {
      if (folderInput.files !== null) void this.add(readFileList(folderInput.files));
      folderInput.value = '';
    });
    element('#add-files-button').addEventListener('click', () => input.click());
    element('#add-folder-button').addEventListener('click', () => folderInput.click());
    element('#new-folder').addEventListener('click', () => void this.newFolder());
    element('#sync-now').addEventListener('click', () => this.services.sync.requestSync());
    this.bindDrop();
  }

  // The whole page is the drop target; the overlay shows while something is dragged over it.
  private bindDrop(): void {
    const overlay = element('#drop-overlay');
    let depth = 0;
    document.addEventListener('dragenter', (event) => {
      event.preventDefault();
      depth++;
      overlay.hidden = false;
    });
    document.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) overlay.hidden = true;
    });
    document.addEventListener('dragover', (event) => event.preventDefault());
    document.addEventListener('drop', (event) => {
      event.preventDefault();
      depth = 0;
      overlay.hidden = true;
      const transfer = (event as DragEvent).dataTransfer;
      if (transfer === null) return;
      readDataTransfer(transfer).then((picked) => this.add(picked), (error: unknown) => this.say(`Could not read what was dropped: ${sentenceOf(error)}`));
    });
  }

  private async add(picked: Picked): Promise<void> {
    if (this.adding.signal.aborted) this.adding = new AbortController();
    const failures = await addPicked(this.services, picked, this.folder, this.transfers, this.adding.signal);
    this.say(failures.length === 0 ? `Added ${picked.files.length} ${picked.files.length === 1 ? 'file' : 'files'}.` : failures.join(' '));
  }

  private async newFolder(): Promise<void> {
    const name = await askName(element<HTMLDialogElement>('#dialog'), 'Name of the new folder', 'New folder');
    if (name === null || name === '') return;
    await this.attempt(async () => {
      await makeFolder({ db: this.services.db, device: this.services.device, now: () => Date.now() }, this.folder === '' ? name : `${this.folder}/${name}`);
      this.services.sync.requestSync();
    });
  }

  private say(message: string): void {
    this.message = message;
    this.redraw();
  }

  private async attempt(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.say(error instanceof Error ? error.message : String(error));
    }
    this.redraw();
  }

  private readonly fileActions: FileListActions = {
    openFolder: (path) => {
      this.folder = path;
      this.redraw();
    },
    open: (path) => void this.attempt(async () => {
      const blob = await localBlob(this.services, path);
      if (blob === null) throw new Error(`"${path}" has no contents here yet.`);
      await showPreview(element<HTMLDialogElement>('#dialog'), path, blob, (text) => saveText(this.services, path, text).then(() => this.redraw()));
    }),
    download: (path) => void this.attempt(async () => {
      const blob = await localBlob(this.services, path);
      if (blob === null) throw new Error(`"${path}" has no contents here yet.`);
      saveBlob(blob, nameOf(path));
    }),
    rename: (path) => void this.attempt(async () => {
      const name = await askName(element<HTMLDialogElement>('#dialog'), `New name for ${nameOf(path)}`, nameOf(path));
      if (name === null || name === '' || name === nameOf(path)) return;
      const folder = folderOf(path);
      await renameFile(this.services, path, folder === '' ? name : `${folder}/${name}`);
    }),
    remove: (path) => void this.attempt(() => deleteFile(this.services, path)),
    history: (path) => void this.attempt(async () => {
      const versions = await this.services.client.history(path);
      showHistory(element<HTMLDialogElement>('#dialog'), path, versions, {
        download: (info) => void this.attempt(() => downloadVersion(this.services, info, nameOf(path))),
        restore: (info, current) => void this.attempt(async () => {
          await restoreVersion(this.services, info, current);
          element<HTMLDialogElement>('#dialog').close();
        }),
      });
    }),
  };

  /** Asks for a redraw; bursts of requests are drawn once. */
  redraw(): void {
    if (this.redrawing !== null) {
      this.redrawAgain = true;
      return;
    }
    this.redrawing = (async () => {
      do {
        this.redrawAgain = false;
        await new Promise((resolve) => requestAnimationFrame(resolve));
        this.snapshot = await readSnapshot(this.services.db);
        this.draw();
      } while (this.redrawAgain);
      this.redrawing = null;
    })();
  }

  private draw(): void {
    const state = this.syncState ?? this.services.sync.state;
    const connection = !state.online ? 'Offline: changes are kept in this browser and sync when you are back online.'
      : state.syncing ? 'Syncing…'
      : state.error ?? 'Up to date.';
    const status = element('#connection');
    status.textContent = connection;
    status.dataset.online = String(state.online);
    status.dataset.syncing = String(state.syncing);
    element('#pending').textContent = this.snapshot.pendingEdits === 0 ? '' : `${this.snapshot.pendingEdits} ${this.snapshot.pendingEdits === 1 ? 'change waits' : 'changes wait'} to sync.`;
    element('#message').textContent = this.message;
    element('#device').textContent = `This device: ${this.services.device}`;
    replaceChildren(element('#tree'), folderTree(this.snapshot, this.folder, this.fileActions));
    replaceChildren(element('#files'), fileList(this.snapshot, this.folder, this.fileActions));
    replaceChildren(element('#conflicts'), conflictsView(this.snapshot, {
      blobOf: (path) => localBlob(this.services, path),
      settle: (conflict, choice) => void this.attempt(() => settleConflict(this.services, conflict.original, conflict.copy, choice)),
    }));
    replaceChildren(element('#transfers'), transfersView(this.transfers, state, () => this.cancel(), () => this.transfers.clearFinished()));
  }

  private cancel(): void {
    this.adding.abort();
    this.services.sync.cancel();
    this.say('Transfers cancelled. What was already added stays; the rest can be added again.');
  }
}
