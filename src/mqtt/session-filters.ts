import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * The topic filters the broker's session holds for the gateway's client id, as far as the gateway
 * knows: those granted since the session began. With mqtt.storeFolder they are also kept on disk,
 * so that a gateway restarted with fewer mqtt.subscriptions can unsubscribe, from a session the
 * broker kept, the filters it no longer wants (else their messages keep coming).
 */
export class SessionFilters {
  private readonly held = new Set<string>();

  /** `file`: where the list is kept; null keeps it in memory only. */
  constructor(private readonly file: string | null) {}

  has(filter: string): boolean {
    return this.held.has(filter);
  }

  add(filter: string): void {
    this.held.add(filter);
  }

  list(): string[] {
    return [...this.held];
  }

  /** A new session: the broker holds nothing. */
  clear(): void {
    this.held.clear();
  }

  /** Filters an earlier run left in the session (read from the file) that are not `wanted` now. */
  leftOver(wanted: ReadonlySet<string>): string[] {
    if (!this.file) return [];
    let before: unknown;
    try {
      before = JSON.parse(readFileSync(this.file, "utf8"));
    } catch {
      // No file yet (first run), or one this version cannot read: nothing known to drop.
      return [];
    }
    return Array.isArray(before) ? before.filter((f) => typeof f === "string" && !wanted.has(f)) : [];
  }

  /** Writes the list (to a temporary file, renamed: a crash leaves the old list or the new one). */
  save(): void {
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(`${this.file}.tmp`, JSON.stringify([...this.held]));
    renameSync(`${this.file}.tmp`, this.file);
  }
}
