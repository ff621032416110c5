import type { Logger } from "./logger.js";

/**
 * Logs at most `perInterval` lines per key and interval, then one summary of what it suppressed.
 * Bad input can arrive thousands of times a second; the log must stay readable and bounded.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly perInterval = 5,
    private readonly intervalMs = 60_000,
    private readonly maxKeys = 1000,
  ) {}

  warn(key: string, message: string, meta: Record<string, unknown>, now = Date.now()): void {
    this.line("warn", key, message, meta, now);
  }

  /** As warn, at error level: what is wrong is the gateway's own fault, not its input's. */
  error(key: string, message: string, meta: Record<string, unknown>, now = Date.now()): void {
    this.line("error", key, message, meta, now);
  }

  private line(
    level: "warn" | "error",
    key: string,
    message: string,
    meta: Record<string, unknown>,
    now: number,
  ): void {
    let w = this.windows.get(key);
    if (w && now - w.start >= this.intervalMs) {
      if (w.suppressed > 0)
        this.logger.warn(`${w.suppressed} more like this were suppressed`, { key, suppressed: w.suppressed });
      w = undefined;
      this.windows.delete(key);
    }
    if (!w) {
      // Keys come from untrusted topics: forget the oldest rather than grow without bound.
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (w.count < this.perInterval) {
      w.count++;
      this.logger[level](message, meta);
    } else w.suppressed++;
  }
}
