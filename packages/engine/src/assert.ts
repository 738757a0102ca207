/**
 * Assertions that stay on in production (TigerBeetle's rule): they catch programmer errors, the
 * kind where continuing would corrupt data. Operating errors (bad input, damaged files, full disks)
 * are never asserted: they are typed errors, see `errors.ts`.
 */

export class AssertionError extends Error {
  override readonly name = "AssertionError";
  readonly code = "PS_ERR_ASSERTION";
}

export function assert(condition: unknown, message?: string): asserts condition {
  if (!condition) throw new AssertionError(message ?? "assertion failed");
}

export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
