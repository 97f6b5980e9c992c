// The folder tree and the file list of the current folder: name, size, modified time,
// version and state, with the actions on each file. Everything is a button or a link,
// so the page works from the keyboard alone.

import type { Row, Snapshot } from '../app/snapshot.ts';
import { h } from './dom.ts';
import { folderOf, formatBytes, formatTime, nameOf } from './format.ts';

export interface FileListActions {
  openFolder(path: string): void;
  open(path: string): void;
  download(path: string): void;
  rename(path: string): void;
  remove(path: string): void;
  history(path: string): void;
}

const stateLabels = { synced: 'Synced', pending: 'Pending', conflict: 'Conflict' };

/** The tree of folders, with the current one marked. */
export function folderTree(snapshot: Snapshot, current: string, actions: FileListActions): HTMLElement {
  const folders = [...snapshot.rows.values()].filter((row) => row.entry.kind === 'dir').map((row) => row.path).sort();
  const item = (path: string, label: string, depth: number): HTMLElement =>
    h('li', { style: `padding-left: ${depth}rem` },
      h('button', { type: 'button', class: 'link', 'data-focus-key': `tree:${path}`, 'aria-current': path === current ? 'true' : undefined, onclick: () => actions.openFolder(path) }, label));
  return h('ul', { class: 'tree' }, item('', 'All files', 0), ...folders.map((path) => item(path, nameOf(path), path.split('/').length)));
}

function fileRow(row: Row, actions: FileListActions): HTMLElement {
  const isDir = row.entry.kind === 'dir';
  const name = nameOf(row.path);
  const button = (label: string, action: (path: string) => void, text = label): HTMLElement =>
    h('button', { type: 'button', 'data-focus-key': `${label}:${row.path}`, 'aria-label': `${label} ${name}`, onclick: () => action(row.path) }, text);
  return h('tr', { 'data-path': row.path, 'data-state': row.state },
    h('td', {}, h('button', { type: 'button', class: 'link', 'data-focus-key': `open:${row.path}`, onclick: () => (isDir ? actions.openFolder(row.path) : actions.open(row.path)) }, isDir ? `📁 ${name}` : name)),
    h('td', { class: 'number' }, isDir ? '' : formatBytes(row.entry.size)),
    h('td', {}, formatTime(row.entry.mtime)),
    h('td', { class: 'number' }, row.base === null ? '' : String(row.base.version)),
    h('td', {}, h('span', { class: `state state-${row.state}` }, stateLabels[row.state])),
    h('td', { class: 'actions' },
      isDir ? null : button('Download', actions.download),
      button('Rename', actions.rename),
      button('Delete', actions.remove),
      isDir ? null : button('History', actions.history)),
  );
}

/** The breadcrumb and the table of the current folder's entries, folders first. */
export function fileList(snapshot: Snapshot, current: string, actions: FileListActions): HTMLElement {
  const rows = [...snapshot.rows.values()]
    .filter((row) => folderOf(row.path) === current)
    .sort((a, b) => (a.entry.kind === b.entry.kind ? a.path.localeCompare(b.path) : a.entry.kind === 'dir' ? -1 : 1));
  const crumbs = current === '' ? [] : current.split('/');
  return h('div', {},
    h('nav', { 'aria-label': 'Current folder', class: 'crumbs' },
      h('button', { type: 'button', class: 'link', onclick: () => actions.openFolder('') }, 'All files'),
      ...crumbs.map((part, index) => h('span', {}, ' / ', h('button', { type: 'button', class: 'link', onclick: () => actions.openFolder(crumbs.slice(0, index + 1).join('/')) }, part)))),
    rows.length === 0
      ? h('p', { class: 'empty' }, 'This folder is empty. Drop files or folders anywhere on the page, or use "Add files".')
      : h('table', { class: 'files' },
          h('thead', {}, h('tr', {}, ...['Name', 'Size', 'Modified', 'Version', 'State', 'Actions'].map((title) => h('th', { scope: 'col' }, title)))),
          h('tbody', {}, ...rows.map((row) => fileRow(row, actions)))),
  );
}
