// Vector clocks decide, for two versions of a file, whether one saw the other: a client
// takes a remote version that dominates its own, and keeps both (a conflict copy) when
// they are concurrent. A device missing from a clock counts as 0. Every function is pure
// and returns a new clock; clocks read off the wire are never mutated.

import type { VectorClock } from './wire.ts';

export type ClockOrder = 'equal' | 'before' | 'after' | 'concurrent';

/**
 * Orders two clocks: `before` when `a` happened before `b` (every counter of `a` is ≤ the
 * one in `b`, and one is smaller), `after` for the reverse, `equal` when no counter
 * differs, and `concurrent` when each has a counter the other lacks.
 */
export function compareClocks(a: VectorClock, b: VectorClock): ClockOrder {
  let less = false;
  let greater = false;
  for (const device of devicesOf(a, b)) {
    const x = counter(a, device);
    const y = counter(b, device);
    if (x < y) less = true;
    else if (x > y) greater = true;
    if (less && greater) return 'concurrent';
  }
  if (less) return 'before';
  if (greater) return 'after';
  return 'equal';
}

/** The least clock that dominates both: the larger counter of each device. */
export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  const merged: VectorClock = {};
  for (const device of devicesOf(a, b)) define(merged, device, Math.max(counter(a, device), counter(b, device)));
  return merged;
}

/** `clock` with `device`'s counter raised by one: the clock of a new version written by `device`. */
export function incrementClock(clock: VectorClock, device: string): VectorClock {
  const next: VectorClock = {};
  for (const name of Object.keys(clock)) define(next, name, clock[name]!);
  define(next, device, counter(clock, device) + 1);
  return next;
}

/** A device's counter in `clock`, 0 when absent. Own properties only, so `__proto__` or `constructor` are plain names. */
export function counter(clock: VectorClock, device: string): number {
  return Object.hasOwn(clock, device) ? clock[device]! : 0;
}

// Sorted, so merged clocks list their devices in one order on every replica. Clocks are
// written on every commit a node applies, so this avoids copies when it can: the keys of
// `a` are already unique, and usually already sorted.
function devicesOf(a: VectorClock, b: VectorClock): string[] {
  const devices = Object.keys(a);
  for (const device of Object.keys(b)) if (!Object.hasOwn(a, device)) devices.push(device);
  for (let i = 1; i < devices.length; i++) if (devices[i - 1]! > devices[i]!) return devices.sort();
  return devices;
}

// Defined rather than assigned, so a device named `__proto__` becomes a key instead of
// changing the object's prototype. Key order is insertion order, as for any object.
function define(clock: VectorClock, device: string, value: number): void {
  if (device === '__proto__') Object.defineProperty(clock, device, { value, enumerable: true, writable: true, configurable: true });
  else clock[device] = value;
}
