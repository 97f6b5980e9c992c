/** Thrown when an invariant does not hold. Assertions stay on in production: a crash beats silent corruption. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
