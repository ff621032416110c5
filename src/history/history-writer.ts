import { decodeRecords, encodeChunk, type HistoryRecord } from "./chunk-codec.js";
import { CHUNK_VALUES, COMPACT_AFTER_MS, type Db, latestColumns, storeBytes } from "./history-db.js";
import type { Batch, WriterFigures } from "./history-protocol.js";
import type { Outbox } from "./outbox.js";
import { recordAt } from "./record-batch.js";

/** Passes of trimming when over history.maxBytes (pages free up only once wholly empty). */
const SIZE_TRIM_PASSES = 20;

/**
 * The store's only writer (it runs in the history thread): commits each flush's records, packs
 * points' records into chunks, and removes what retention says, oldest first, counting it.
 */
export class HistoryWriter {
  readonly figures: WriterFigures = {
    written: 0,
    droppedByAge: 0,
    droppedBySize: 0,
    eventsWritten: 0,
    eventsDroppedByAge: 0,
    eventsDroppedBySize: 0,
    bytes: 0,
  };
  /** Per point: its records in `recent` and the source time of its oldest. */
  private readonly pending = new Map<number, { count: number; oldest: number }>();
  private readonly insertPoint;
  private readonly insertRecent;
  private readonly takeRecent;
  private readonly insertChunk;
  private readonly dropOld;
  private readonly dropOldRecent;
  private readonly dropOldest;
  private readonly countChunks;
  private readonly setLatest;
  private readonly forgetLatest;
  private readonly insertEvent;
  private readonly openCondition;
  private readonly closeCondition;
  private readonly dropOldEvents;
  private readonly dropOldestEvents;
  private readonly countEvents;
  private readonly writeBatch;
  private readonly compactPoints;
  private readonly readPending;

  constructor(
    private readonly db: Db,
    private readonly file: string,
    private readonly retention: { retentionDays: number; maxBytes: number; forgetAfterDays: number },
    /** With history.postgres: each commit's rows once more, for the forwarder. */
    private readonly outbox: Outbox | null = null,
  ) {
    this.insertPoint = db.prepare("INSERT OR IGNORE INTO points (id, topic) VALUES (?, ?)");
    this.insertRecent = db.prepare("INSERT INTO recent (point, t, end, n, data) VALUES (?, ?, ?, ?, ?)");
    this.takeRecent = db.prepare<[number], { t: number; data: Uint8Array }>(
      "DELETE FROM recent WHERE point = ? RETURNING t, data",
    );
    this.insertChunk = db.prepare("INSERT INTO chunks (point, start, end, n, data) VALUES (?, ?, ?, ?, ?)");
    this.dropOld = db.prepare<[number], { n: number }>("DELETE FROM chunks WHERE end < ? RETURNING n");
    this.dropOldRecent = db.prepare<[number], { n: number }>("DELETE FROM recent WHERE end < ? RETURNING n");
    this.dropOldest = db.prepare<[number], { n: number }>(
      "DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks ORDER BY end LIMIT ?) RETURNING n",
    );
    this.countChunks = db.prepare<[], number>("SELECT count(*) FROM chunks").pluck();
    this.setLatest = db.prepare(
      "INSERT OR REPLACE INTO latest (point, seen, t, status, kind, v) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.forgetLatest = db.prepare("DELETE FROM latest WHERE seen < ?");
    this.insertEvent = db.prepare(
      "INSERT INTO events (t, received, source, type, condition, severity, fields) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.openCondition = db.prepare(
      "INSERT OR REPLACE INTO open_conditions (condition, fields) VALUES (?, ?)",
    );
    this.closeCondition = db.prepare("DELETE FROM open_conditions WHERE condition = ?");
    this.dropOldEvents = db.prepare("DELETE FROM events WHERE t < ?");
    this.dropOldestEvents = db.prepare(
      "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events ORDER BY t LIMIT ?)",
    );
    this.countEvents = db.prepare<[], number>("SELECT count(*) FROM events").pluck();
    this.readPending = db.prepare<[], { point: number; count: number; oldest: number }>(
      "SELECT point, sum(n) AS count, min(t) AS oldest FROM recent GROUP BY point",
    );
    this.resync();
    this.writeBatch = db.transaction((batch: Batch) => {
      for (const [id, topic] of batch.topics) this.insertPoint.run(id, topic);
      // One row per point and flush, not per value: a flush costs as many inserts as points moved.
      const byPoint = new Map<number, HistoryRecord[]>();
      /** Per point, its last fresh record in this batch (in arrival order: what the variable showed last). */
      const lastFresh = new Map<number, HistoryRecord>();
      const { records } = batch;
      for (let i = 0; i < records.length; i++) {
        const id = records.ids[i]!;
        const r = recordAt(records, i);
        const list = byPoint.get(id);
        if (list) list.push(r);
        else byPoint.set(id, [r]);
        if (records.fresh[i]) lastFresh.set(id, r);
      }
      for (const [id, r] of lastFresh)
        this.setLatest.run(id, r.serverTime, r.sourceTime, r.status, ...latestColumns(r.value));
      for (const [id, list] of byPoint) {
        let first = Number.POSITIVE_INFINITY;
        let last = Number.NEGATIVE_INFINITY;
        for (const r of list) {
          first = Math.min(first, r.sourceTime);
          last = Math.max(last, r.sourceTime);
        }
        const data = encodeChunk(list, first);
        this.insertRecent.run(id, first, last, list.length, data);
        this.outbox?.add(id, first, last, list.length, data);
        const p = this.pending.get(id);
        if (p) {
          p.count += list.length;
          p.oldest = Math.min(p.oldest, first);
        } else this.pending.set(id, { count: list.length, oldest: first });
      }
      for (const [id, p] of this.pending) if (p.count >= CHUNK_VALUES) this.compact(id);
      for (const e of batch.events) {
        this.insertEvent.run(e.time, e.receiveTime, e.source, e.type, e.condition, e.severity, e.fields);
        if (e.open === true) this.openCondition.run(e.condition, e.fields);
        else if (e.open === false) this.closeCondition.run(e.condition);
      }
    });
    this.compactPoints = db.transaction((ids: number[]) => {
      for (const id of ids) this.compact(id);
    });
  }

  /**
   * What waits in `recent`, read from the store: at start, and after a commit that failed (a full
   * disk), whose rollback undid rows and packings this writer had already counted.
   */
  resync(): void {
    this.pending.clear();
    for (const row of this.readPending.all())
      this.pending.set(row.point, { count: row.count, oldest: row.oldest });
  }

  write(batch: Batch): void {
    this.writeBatch(batch);
    this.figures.written += batch.records.length;
    this.outbox?.added(batch.records.length);
    this.figures.eventsWritten += batch.events.length;
  }

  /** Packs points whose records waited long enough, then applies retention (every few seconds). */
  upkeep(now: number): void {
    const due = [...this.pending].filter(([, p]) => now - p.oldest >= COMPACT_AFTER_MS).map(([id]) => id);
    if (due.length > 0) this.compactPoints(due);
    this.forgetLatest.run(now - this.retention.forgetAfterDays * 86_400_000);
    const cutoff = now - this.retention.retentionDays * 86_400_000;
    this.figures.droppedByAge += sum(this.dropOld.all(cutoff));
    this.figures.droppedByAge += sum(this.dropOldRecent.all(cutoff));
    this.figures.eventsDroppedByAge += this.dropOldEvents.run(cutoff).changes;
    // Pages freed by a DELETE are reused by later writes; the file does not shrink, so the bound
    // is on pages in use. A point's records still in `recent` are never the oldest trimmed here.
    for (let pass = 0; pass < SIZE_TRIM_PASSES; pass++) {
      const used = this.usedBytes();
      const chunks = this.countChunks.get()!;
      const events = this.countEvents.get()!;
      if (used <= this.retention.maxBytes || chunks + events === 0) break;
      // The share of chunks (and of events) that the excess is, a little more, so that few passes are needed.
      const excess = (used - this.retention.maxBytes) / used;
      this.figures.droppedBySize += sum(this.dropOldest.all(Math.ceil(excess * chunks * 1.05)));
      this.figures.eventsDroppedBySize += this.dropOldestEvents.run(
        Math.ceil(excess * events * 1.05),
      ).changes;
    }
    this.figures.bytes = storeBytes(this.file);
  }

  /** One point's records from `recent` into chunks of at most CHUNK_VALUES, in source-time order. */
  private compact(id: number): void {
    const records: HistoryRecord[] = [];
    // A row of `recent` is a chunk of one record whose start is its own time.
    for (const row of this.takeRecent.all(id)) records.push(...decodeRecords(row.data, row.t));
    records.sort((a, b) => a.sourceTime - b.sourceTime);
    for (let i = 0; i < records.length; i += CHUNK_VALUES) {
      const part = records.slice(i, i + CHUNK_VALUES);
      const start = part[0]!.sourceTime;
      this.insertChunk.run(id, start, part.at(-1)!.sourceTime, part.length, encodeChunk(part, start));
    }
    this.pending.delete(id);
  }

  private usedBytes(): number {
    const pages = this.db.pragma("page_count", { simple: true }) as number;
    const free = this.db.pragma("freelist_count", { simple: true }) as number;
    return (pages - free) * (this.db.pragma("page_size", { simple: true }) as number);
  }
}

function sum(rows: { n: number }[]): number {
  return rows.reduce((s, r) => s + r.n, 0);
}
