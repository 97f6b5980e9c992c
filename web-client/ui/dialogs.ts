// The modal dialogs: a file's preview (images and text, with text editable), its
// history with restore, and a name prompt. Built on <dialog>, which traps focus and
// closes with Escape.

import type { FileInfo } from '../../protocol/wire.ts';
import { h } from './dom.ts';
import { formatBytes, formatTime, isImagePath, isTextPath } from './format.ts';

/** Text larger than this is not opened in the editor. */
export const editableTextBytesMax = 1024 * 1024;

function show(dialog: HTMLDialogElement, title: string, ...body: (HTMLElement | null)[]): void {
  dialog.replaceChildren(
    h('h2', {}, title),
    ...body.filter((node): node is HTMLElement => node !== null),
    h('form', { method: 'dialog' }, h('button', { type: 'submit' }, 'Close')),
  );
  // Emptied on close, so a stale preview is never shown (or read) before the next one is ready.
  dialog.addEventListener('close', () => dialog.replaceChildren(), { once: true });
  if (!dialog.open) dialog.showModal();
}

/** Shows a preview of `blob`; text under the size cap can be edited and saved. */
export async function showPreview(dialog: HTMLDialogElement, path: string, blob: Blob, onSave: (text: string) => Promise<void>): Promise<void> {
  if (isImagePath(path)) return show(dialog, path, h('img', { class: 'preview-image', src: URL.createObjectURL(blob), alt: path }));
  if (!isTextPath(path) || blob.size > editableTextBytesMax) {
    return show(dialog, path, h('p', {}, `No preview for this kind of file (${formatBytes(blob.size)}). Use Download to open it.`));
  }
  const editor = h('textarea', { rows: 16, cols: 80, 'aria-label': `Contents of ${path}` });
  editor.value = await blob.text();
  const status = h('p', { role: 'status' });
  const save = h('button', { type: 'button', onclick: () => {
    status.textContent = 'Saving…';
    onSave(editor.value).then(() => (status.textContent = 'Saved; it will sync when the cluster is reachable.'), (error: unknown) => (status.textContent = `Could not save: ${String(error)}`));
  } }, 'Save');
  show(dialog, path, editor, h('div', { class: 'toolbar' }, save), status);
}

export interface HistoryActions {
  download(info: FileInfo): void;
  restore(info: FileInfo, currentVersion: number): void;
}

/** Shows every retained version of a file, newest first, each with Download and Restore. */
export function showHistory(dialog: HTMLDialogElement, path: string, versions: FileInfo[], actions: HistoryActions): void {
  const current = versions[0]?.version ?? 0;
  const rows = versions.map((info) =>
    h('tr', { 'data-version': info.version },
      h('td', {}, String(info.version)),
      h('td', {}, info.deleted ? 'Deleted' : formatBytes(info.size)),
      h('td', {}, formatTime(info.mtime)),
      h('td', {}, info.device),
      h('td', {},
        info.deleted ? null : h('button', { type: 'button', onclick: () => actions.download(info) }, 'Download'),
        info.deleted || info.version === current ? null : h('button', { type: 'button', onclick: () => actions.restore(info, current) }, 'Restore'))));
  show(dialog, `History of ${path}`, versions.length === 0
    ? h('p', {}, 'The cluster has no versions of this file yet; it has not been synced.')
    : h('table', {}, h('thead', {}, h('tr', {}, ...['Version', 'Size', 'Modified', 'Device', ''].map((title) => h('th', { scope: 'col' }, title)))), h('tbody', {}, ...rows)));
}

/** Asks for a name; resolves null when the user cancels. */
export function askName(dialog: HTMLDialogElement, title: string, initial: string): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h('input', { type: 'text', value: initial, 'aria-label': title, required: true, size: 50 });
    const form = h('form', { method: 'dialog' }, h('label', {}, `${title} `, input), h('div', { class: 'toolbar' }, h('button', { type: 'submit', value: 'ok' }, 'OK'), h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, 'Cancel')));
    dialog.replaceChildren(h('h2', {}, title), form);
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok' ? input.value.trim() : null), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    input.select();
  });
}
