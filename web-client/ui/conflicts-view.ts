// Conflicts, each shown side by side: the version the cluster kept under the file's name
// ("theirs") and this device's version, kept as a conflict copy ("mine"), with the three
// ways out. Nothing is deleted until the user picks.

import type { OpenConflict, Snapshot } from '../app/snapshot.ts';
import { h } from './dom.ts';
import { formatBytes, formatTime, isImagePath, isTextPath } from './format.ts';

/** Text shown of each side at most. */
export const conflictPreviewBytesMax = 4096;

export interface ConflictActions {
  blobOf(path: string): Promise<Blob | null>;
  settle(conflict: OpenConflict, choice: 'both' | 'mine' | 'theirs'): void;
}

function side(title: string, path: string, snapshot: Snapshot, actions: ConflictActions): HTMLElement {
  const row = snapshot.rows.get(path);
  const preview = h('div', { class: 'preview' });
  void actions.blobOf(path).then(async (blob) => {
    if (blob === null) return;
    if (isImagePath(path)) preview.append(h('img', { src: URL.createObjectURL(blob), alt: `${title}: ${path}` }));
    else if (isTextPath(path)) preview.append(h('pre', {}, await blob.slice(0, conflictPreviewBytesMax).text()));
  });
  return h('div', { class: 'side', 'data-side': title === 'Mine' ? 'mine' : 'theirs' },
    h('h3', {}, title),
    h('p', {}, h('code', {}, path)),
    h('p', {}, row === undefined ? '' : `${formatBytes(row.entry.size)}, modified ${formatTime(row.entry.mtime)}`),
    preview);
}

/** The conflicts panel; empty when there are none. */
export function conflictsView(snapshot: Snapshot, actions: ConflictActions): HTMLElement {
  if (snapshot.conflicts.length === 0) return h('div', {});
  return h('div', {},
    h('h2', {}, `Conflicts (${snapshot.conflicts.length})`),
    h('p', {}, 'These files were changed here and elsewhere at the same time. Both versions are kept until you choose.'),
    ...snapshot.conflicts.map((conflict) =>
      h('article', { class: 'conflict', 'data-path': conflict.original, 'data-copy': conflict.copy },
        h('div', { class: 'sides' }, side('Theirs', conflict.original, snapshot, actions), side('Mine', conflict.copy, snapshot, actions)),
        h('div', { class: 'toolbar' },
          h('button', { type: 'button', onclick: () => actions.settle(conflict, 'both') }, 'Keep both'),
          h('button', { type: 'button', onclick: () => actions.settle(conflict, 'mine') }, 'Keep mine'),
          h('button', { type: 'button', onclick: () => actions.settle(conflict, 'theirs') }, 'Keep theirs')))),
  );
}
