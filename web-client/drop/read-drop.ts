// Turns what the user dropped or picked into a list of files with their relative paths.
// Folders are walked with the File System Access API (`getAsFileSystemHandle`) where the
// browser has it, else with `webkitGetAsEntry`, whose `readEntries` hands out a folder
// in batches and must be called until it returns none.

/** One file to add, at `path` relative to the drop. */
export interface PickedFile {
  path: string;
  file: File;
}

/** What one drop found: files, and folders (so empty ones are kept too). */
export interface Picked {
  files: PickedFile[];
  folders: string[];
}

/** Files in one drop at most; a larger drop is refused with a sentence rather than freezing the tab. */
export const droppedFilesMax = 100_000;

interface Collector extends Picked {
  add(path: string, file: File): void;
}

function collector(): Collector {
  const picked: Collector = {
    files: [],
    folders: [],
    add(path, file) {
      if (picked.files.length >= droppedFilesMax) throw new Error(`A drop can hold at most ${droppedFilesMax} files; drop fewer at a time.`);
      picked.files.push({ path, file });
    },
  };
  return picked;
}

type HandleItem = DataTransferItem & { getAsFileSystemHandle?(): Promise<FileSystemHandle | null> };
type DirectoryHandle = FileSystemDirectoryHandle & { values(): AsyncIterable<FileSystemHandle> };

async function walkHandle(handle: FileSystemHandle, path: string, into: Collector): Promise<void> {
  if (handle.kind === 'file') return into.add(path, await (handle as FileSystemFileHandle).getFile());
  into.folders.push(path);
  for await (const child of (handle as DirectoryHandle).values()) await walkHandle(child, `${path}/${child.name}`, into);
}

function readBatch(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walkEntry(entry: FileSystemEntry, path: string, into: Collector): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    return into.add(path, file);
  }
  into.folders.push(path);
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (let batch = await readBatch(reader); batch.length > 0; batch = await readBatch(reader)) {
    for (const child of batch) await walkEntry(child, `${path}/${child.name}`, into);
  }
}

/**
 * Reads a drop's files and folders. Every item's handle or entry is taken before the
 * first await, because a DataTransfer's items are emptied once the drop event returns.
 */
export async function readDataTransfer(transfer: DataTransfer): Promise<Picked> {
  const into = collector();
  const items = [...transfer.items].filter((item) => item.kind === 'file');
  const sources = items.map((item) => {
    const handle = (item as HandleItem).getAsFileSystemHandle?.();
    return { handle, entry: handle === undefined ? item.webkitGetAsEntry() : null, file: item.getAsFile() };
  });
  for (const source of sources) {
    const handle = source.handle === undefined ? null : await source.handle.catch(() => null);
    if (handle !== null) await walkHandle(handle, handle.name, into);
    else if (source.entry !== null) await walkEntry(source.entry, source.entry.name, into);
    else if (source.file !== null) into.add(source.file.name, source.file);
  }
  return into;
}

/** Files chosen with an `<input type=file>`, keeping folder paths when it picked a folder. */
export function readFileList(files: FileList): Picked {
  const into = collector();
  for (const file of files) into.add(file.webkitRelativePath || file.name, file);
  return into;
}
