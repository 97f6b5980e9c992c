// Number formatting for the dashboard: sizes, ages and ratios as people read them.

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** `null` → `–`, `40` → `40 ms`, `2500` → `2.5 s`. */
export function formatAge(ms: number | null): string {
  if (ms === null) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `0.3178` → `31.8 %`. */
export function formatShare(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}

/** A wall-clock time as `14:03:27`. */
export function formatClock(atMs: number): string {
  return new Date(atMs).toLocaleTimeString([], { hour12: false });
}
