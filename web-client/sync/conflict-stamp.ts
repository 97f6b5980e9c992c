// The time stamp in a conflict copy's name: `YYYY-MM-DD HHMMSS` in the user's time zone,
// as Dropbox names its conflicted copies, so a person can tell them apart by when.

/** Formats `date` (local time) as `YYYY-MM-DD HHMMSS`. */
export function conflictStamp(date: Date): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}`;
}

const copyPattern = /^(.*) \(conflicted copy from .+? \d{4}-\d{2}-\d{2} \d{6}(?: \d+)?\)(\.[^./]*)?$/;

/** The path a conflict copy was made from, or null when `path` is not a conflict copy. */
export function originalOfCopy(path: string): string | null {
  const match = copyPattern.exec(path);
  return match === null ? null : `${match[1]}${match[2] ?? ''}`;
}
