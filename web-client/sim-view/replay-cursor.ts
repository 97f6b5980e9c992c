// Finding what a replay looked like at one instant: the frame in force and the messages
// in flight. Frames and messages are recorded in time order, so both are binary searches.

import type { Replay, ReplayFrame, ReplayMessage } from '../../sim/replay-recorder.ts';

/** How long a lost message stays drawn after it was sent, in simulated ms. */
export const lostMessageShownMs = 3;

/** The last frame at or before `atMs` (the first frame when `atMs` is before it). */
export function frameAt(replay: Replay, atMs: number): ReplayFrame | null {
  const frames = replay.frames;
  if (frames.length === 0) return null;
  let low = 0;
  let high = frames.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if (frames[middle]!.atMs <= atMs) low = middle;
    else high = middle - 1;
  }
  return frames[low]!;
}

/** The longest flight of any delivered message; bounds how far back in-flight messages can start. */
export function longestFlightMs(messages: ReplayMessage[]): number {
  let longest = lostMessageShownMs;
  for (const message of messages) if (message.arriveMs !== null) longest = Math.max(longest, message.arriveMs - message.sentMs);
  return longest;
}

/** Messages sent at or before `atMs` that had not arrived yet, with how far along (0–1) each is. */
export function messagesInFlight(messages: ReplayMessage[], atMs: number, flightMaxMs: number): { message: ReplayMessage; progress: number }[] {
  let low = 0;
  let high = messages.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (messages[middle]!.sentMs <= atMs) low = middle + 1;
    else high = middle;
  }
  const flying: { message: ReplayMessage; progress: number }[] = [];
  for (let i = low - 1; i >= 0 && messages[i]!.sentMs >= atMs - flightMaxMs; i--) {
    const message = messages[i]!;
    const endMs = message.arriveMs ?? message.sentMs + lostMessageShownMs;
    if (endMs <= atMs) continue;
    const progress = endMs === message.sentMs ? 1 : (atMs - message.sentMs) / (endMs - message.sentMs);
    flying.push({ message, progress: Math.min(1, Math.max(0, progress)) });
  }
  return flying;
}
