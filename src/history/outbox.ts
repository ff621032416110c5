import { randomUUID } from "node:crypto";
import type { Db } from "./history-db.js";

/** One commit's records of one point, packed as in `recent` (chunk-codec), waiting to be shipped. */
export interface OutboxRow {
  seq: number;
  point: number;
  t: number;
  n: number;
  data: Uint8Array;
}

/**
 * What the local store has committed and PostgreSQL has not yet taken (README, History:
 * PostgreSQL), oldest first. Bounded: rows whose newest record is older than the retention, and
 * the oldest beyond `maxValues`, are removed and counted. Used by the history thread only (the
 * writer adds in its commit, the forwarder takes and removes), so its count needs no lock.
 */
export class Outbox {
  /** Values waiting. */
  private count: number;
  /** The last seq handed to the forwarder: what it ships is not trimmed from under it. */
  private taken = 0;
  /** Names this store in PostgreSQL's `shipped`: a new store's seqs start again at 1. */
  readonly storeId: string;
  private readonly insert;
  private readonly next;
  private readonly head;
  private readonly removeRange;

  constructor(
    db: Db,
    private readonly maxValues: number,
  ) {
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('store', ?)").run(randomUUID());
    this.storeId = db.prepare<[], string>("SELECT value FROM meta WHERE key = 'store'").pluck().get()!;
    this.count = db.prepare<[], number>("SELECT coalesce(sum(n), 0) FROM outbox").pluck().get()!;
    this.insert = db.prepare("INSERT INTO outbox (point, t, end, n, data) VALUES (?, ?, ?, ?, ?)");
    this.next = db.prepare<[], OutboxRow>("SELECT seq, point, t, n, data FROM outbox ORDER BY seq");
    this.head = db.prepare<[number], { seq: number; end: number; n: number }>(
      "SELECT seq, end, n FROM outbox WHERE seq > ? ORDER BY seq",
    );
    this.removeRange = db.prepare<[number, number], { n: number }>(
      "DELETE FROM outbox WHERE seq > ? AND seq <= ? RETURNING n",
    );
  }

  /** Values waiting to be shipped. */
  get values(): number {
    return this.count;
  }

  /** Within the writer's transaction; `added` counts them once it has committed. */
  add(point: number, t: number, end: number, n: number, data: Uint8Array): void {
    this.insert.run(point, t, end, n, data);
  }

  added(values: number): void {
    this.count += values;
  }

  /** The oldest rows, as many as make `values` (at least one row), in commit order. */
  take(values: number): OutboxRow[] {
    const rows: OutboxRow[] = [];
    let sum = 0;
    for (const row of this.next.iterate()) {
      rows.push(row);
      sum += row.n;
      if (sum >= values) break;
    }
    this.taken = rows.at(-1)?.seq ?? this.taken;
    return rows;
  }

  /** Removes rows up to `seq` (shipped, or known to PostgreSQL already); returns their values. */
  remove(seq: number): number {
    return this.removeBetween(0, seq);
  }

  private removeBetween(after: number, upTo: number): number {
    let removed = 0;
    for (const { n } of this.removeRange.all(after, upTo)) removed += n;
    this.count -= removed;
    return removed;
  }

  /** Drops rows (not those being shipped) wholly older than `cutoff`, then the oldest beyond maxValues. */
  trim(cutoff: number): { byAge: number; byBacklog: number } {
    let upTo = -1;
    let byAge = 0;
    let byBacklog = 0;
    for (const row of this.head.iterate(this.taken)) {
      if (row.end < cutoff) byAge += row.n;
      else if (this.count - byAge - byBacklog > this.maxValues) byBacklog += row.n;
      else break;
      upTo = row.seq;
    }
    if (upTo >= 0) this.removeBetween(this.taken, upTo);
    return { byAge, byBacklog };
  }
}
