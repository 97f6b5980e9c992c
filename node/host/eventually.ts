// For process-level tests: wait until a condition over real processes holds, polling.

/**
 * Polls `check` every `intervalMs` until it returns true, and throws after `timeoutMs`
 * naming `what` and the last thing seen: a string `check` returned (why not yet) or the
 * message of an error it threw (a file mid-rename, a node restarting). `false` means
 * "not yet" with nothing to add.
 */
export async function eventually(
  what: string,
  check: () => boolean | string | Promise<boolean | string>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  for (;;) {
    try {
      const outcome = await check();
      if (outcome === true) return;
      if (typeof outcome === 'string') last = outcome;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === null ? '' : `; last: ${last}`}`);
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}
