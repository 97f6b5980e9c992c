// Progress: each file being added, with its bytes hashed and then sent, a total over all
// of them, the running sync's bytes, and a button that cancels both.

import type { Transfer, Transfers } from '../app/transfers.ts';
import type { SyncState } from '../sync/sync-controller.ts';
import { h } from './dom.ts';
import { formatBytes } from './format.ts';

function bar(done: number, total: number, label: string): HTMLElement {
  return h('progress', { max: Math.max(1, total), value: Math.min(done, total), 'aria-label': label });
}

const stateText = { waiting: 'Waiting', hashing: 'Hashing', stored: 'Added, waiting to sync', uploading: 'Uploading', synced: 'Synced', failed: 'Failed', cancelled: 'Cancelled' };

/** The bar and byte counts of a row that is moving: hashing (of the file's size) or uploading (of what the cluster lacked). */
function rowProgress(row: Transfer): (HTMLElement | string)[] {
  if (row.state === 'hashing' || row.state === 'waiting') return [bar(row.bytesDone, row.bytesTotal, `${row.path} hashed`), ` ${formatBytes(row.bytesDone)} of ${formatBytes(row.bytesTotal)}`];
  if (row.state === 'uploading') return [bar(row.uploadDone, row.uploadTotal, `${row.path} uploaded`), ` ${formatBytes(row.uploadDone)} of ${formatBytes(row.uploadTotal)} sent`];
  return [];
}

/** The transfers panel; `onCancel` stops hashing and the sync in progress. */
export function transfersView(transfers: Transfers, sync: SyncState, onCancel: () => void, onClear: () => void): HTMLElement {
  const rows = transfers.list();
  const total = rows.reduce((sum, row) => sum + row.bytesTotal, 0);
  const done = rows.reduce((sum, row) => sum + row.bytesDone, 0);
  const progress = sync.progress;
  const busy = transfers.active || sync.syncing;
  return h('div', {},
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', id: 'cancel-transfers', disabled: !busy, onclick: onCancel }, 'Cancel transfers'),
      h('button', { type: 'button', disabled: rows.length === 0, onclick: onClear }, 'Clear finished')),
    rows.length === 0 ? null : h('p', {}, `Adding: ${formatBytes(done)} of ${formatBytes(total)} `, bar(done, total, 'All files added')),
    progress === null || progress.bytesTotal === 0 ? null
      : h('p', { id: 'sync-progress' }, `Syncing: ${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}, ${progress.filesDone} of ${progress.filesTotal} changes `, bar(progress.bytesDone, progress.bytesTotal, 'Sync')),
    rows.length === 0 ? null
      : h('ul', { class: 'transfers' }, ...rows.map((row) =>
          h('li', { 'data-path': row.path, 'data-state': row.state },
            `${row.path}: ${stateText[row.state]} `,
            ...rowProgress(row),
            row.error === undefined || row.state === 'cancelled' ? null : h('span', { class: 'error' }, ` ${row.error}`)))),
  );
}
