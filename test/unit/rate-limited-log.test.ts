import { describe, expect, it } from "vitest";
import type { Logger } from "../../src/shared/logger.js";
import { RateLimitedLog } from "../../src/shared/rate-limited-log.js";

function recorder() {
  const lines: { message: string; meta: unknown }[] = [];
  const logger = {
    warn: (message: string, meta: unknown) => lines.push({ message, meta }),
  } as unknown as Logger;
  return { lines, logger };
}

describe("rate-limited logging of bad input", () => {
  it("logs a few lines per key and interval, then one summary of what it suppressed", () => {
    const { lines, logger } = recorder();
    const log = new RateLimitedLog(logger, 3, 1000);
    for (let i = 0; i < 100; i++) log.warn("unknownId", `line ${i}`, {}, 0);
    expect(lines.map((l) => l.message)).toEqual(["line 0", "line 1", "line 2"]);
    log.warn("unknownId", "later", {}, 1500);
    expect(lines.map((l) => l.message).slice(3)).toEqual(["97 more like this were suppressed", "later"]);
  });

  it("keeps a bounded number of keys whatever arrives", () => {
    const { lines, logger } = recorder();
    const log = new RateLimitedLog(logger, 1, 60_000, 10);
    for (let i = 0; i < 10_000; i++) log.warn(`k${i}`, "x", {}, 0);
    // Remembered, so suppressed: the last 10 keys. Forgotten, so logged again: every older one.
    const logs = (key: string) => {
      const before = lines.length;
      log.warn(key, "again", {}, 0);
      return lines.length > before;
    };
    expect(["k9990", "k9995", "k9999"].map(logs)).toEqual([false, false, false]);
    expect(logs("k9989")).toBe(true);
  });
});
