// How sizes and times read on the page.

const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];

/** `1234567` → `1.2 MB` (powers of 1000, as file managers show them). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A modification time in the user's locale. */
export function formatTime(ms: number): string {
  return ms > 0 ? new Date(ms).toLocaleString() : '';
}

/** The last segment of a path. */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The folder holding `path` ('' for the top). */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

const textExtensions = /\.(txt|md|json|csv|log|ts|js|html|css|xml|yaml|yml|toml|ini|sh|py|c|h|rs|go)$/i;
const imageExtensions = /\.(png|jpe?g|gif|webp|svg|avif|bmp|ico)$/i;

export function isTextPath(path: string): boolean {
  return textExtensions.test(path);
}

export function isImagePath(path: string): boolean {
  return imageExtensions.test(path);
}
