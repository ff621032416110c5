import { afterEach } from "vitest";

/**
 * Everything a test starts, stopped after it in reverse order, whether it passed or not.
 * Call in a describe (or at top level): `const { track, defer } = useCleanups();`.
 */
export function useCleanups() {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
  });
  /** Stops `x` after the test; returns it for chaining. */
  const track = <T extends { stop(): Promise<void> }>(x: T): T => {
    cleanups.push(() => x.stop());
    return x;
  };
  /** Any other undo step. */
  const defer = (undo: () => Promise<void>) => {
    cleanups.push(undo);
  };
  return { track, defer };
}
