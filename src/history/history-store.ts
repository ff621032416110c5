import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import type { HistoryCounters } from "../mapping/counters.js";
import type { JournalEvent, JournalQuery, JournalRow } from "../mapping/journal-types.js";
import type { Logger } from "../shared/logger.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";
import { newWorker } from "../shared/worker-thread.js";
import type { HistoryRecord } from "./chunk-codec.js";
import {
  DB_FILE,
  type Db,
  EventReader,
  latestValue,
  openDb,
  type RangeQuery,
  RangeReader,
} from "./history-db.js";
import type { Batch, FromThread, HistoryThreadData, ToThread } from "./history-protocol.js";
import { RecordBatch } from "./record-batch.js";

export interface HistoryOptions {
  folder: string;
  /** Seconds between commits: what a killed process may lose at most. */
  flushInterval: number;
  /** Records appended but not yet committed; beyond, new ones are dropped and counted. */
  maxBacklog: number;
  retentionDays: number;
  maxBytes: number;
  /** Days without a fresh value after which a device is not restored at start; 0 or absent: retentionDays. */
  forgetAfterDays?: number;
}

/** A point of a device that published within forgetAfterDays, with its last fresh value (null: none). */
export interface RestoredPoint {
  topic: string;
  last: HistoryRecord | null;
}

/**
 * The embedded history store, on the main thread's side: appends are a push onto the current
 * batch (the per-message path never touches the disk); every flushInterval the batch goes to the
 * history thread, which commits it. Reads use a connection of their own (WAL readers never wait
 * on the writer) and see what has been committed.
 */
export class HistoryStore {
  private db: Db | null = null;
  private reader: RangeReader | null = null;
  private eventReader: EventReader | null = null;
  private worker: Worker | null = null;
  private readonly ids = new Map<string, number>();
  private nextId = 1;
  private newTopics: [number, string][] = [];
  private readonly batch = new RecordBatch();
  private events: JournalEvent[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped: (() => void) | null = null;
  private readonly log: RateLimitedLog;
  private readonly figures: HistoryCounters = {
    written: 0,
    bytes: 0,
    backlog: 0,
    droppedByAge: 0,
    droppedBySize: 0,
    droppedByBacklog: 0,
    droppedByWriteError: 0,
    eventsWritten: 0,
    eventsDroppedByAge: 0,
    eventsDroppedBySize: 0,
  };

  constructor(
    private readonly options: HistoryOptions,
    private readonly logger: Logger,
  ) {
    this.log = new RateLimitedLog(logger);
  }

  /**
   * Opens the store (creating its folder and tables) and starts the history thread. False when the
   * store cannot be opened (logged): the gateway then mirrors without history rather than not at all.
   */
  start(): boolean {
    const file = join(this.options.folder, DB_FILE);
    let db: Db;
    try {
      mkdirSync(this.options.folder, { recursive: true });
      db = openDb(file);
    } catch (err) {
      this.logger.error("history store cannot be opened: running without history", {
        file,
        error: (err as Error).message,
      });
      return false;
    }
    this.db = db;
    this.reader = new RangeReader(db);
    this.eventReader = new EventReader(db);
    for (const row of db
      .prepare<[], { id: number; topic: string }>("SELECT id, topic FROM points")
      .iterate()) {
      this.ids.set(row.topic, row.id);
      this.nextId = Math.max(this.nextId, row.id + 1);
    }
    const data: HistoryThreadData = {
      file,
      retentionDays: this.options.retentionDays,
      maxBytes: this.options.maxBytes,
      forgetAfterDays: this.forgetAfterDays,
    };
    const worker = newWorker(import.meta.url, "history-worker", data);
    worker.on("message", (m: FromThread) => this.fromThread(m));
    worker.on("error", (err) => this.logger.error("history thread failed", { error: err.message }));
    worker.unref();
    this.worker = worker;
    this.timer = setInterval(() => this.flush(), this.options.flushInterval * 1000);
    this.timer.unref();
    this.logger.info("history store open", { file, points: this.ids.size });
    return true;
  }

  /** Sends what is waiting, waits for the thread to commit it and closes the store. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const worker = this.worker;
    this.worker = null;
    if (worker) {
      this.flushTo(worker);
      const done = new Promise<void>((resolve) => {
        this.stopped = resolve;
      });
      // Unreferenced while running (it must not hold the process up); waited for now.
      worker.ref();
      worker.postMessage({ t: "stop" } satisfies ToThread);
      // The thread answers after its last commit; a wedged one must not hold the shutdown.
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000).unref())]);
      await worker.terminate();
    }
    this.db?.close();
    this.db = null;
    this.reader = null;
    this.eventReader = null;
  }

  /** The store's id of a point, given on first use (kept across restarts). */
  pointId(topic: string): number {
    let id = this.ids.get(topic);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(topic, id);
      this.newTopics.push([id, topic]);
    }
    return id;
  }

  /**
   * Every point of the devices that published (a fresh value received) within forgetAfterDays, each
   * with its last fresh value, or null for a point that never had one or only longer ago (README,
   * History: continuity). Read once at start: one pass over two tables, ~100,000 rows.
   */
  restorable(now = Date.now()): RestoredPoint[] {
    if (!this.db) return [];
    const cutoff = now - this.forgetAfterDays * 86_400_000;
    type Row = [
      topic: string,
      seen: number | null,
      t: number,
      status: number,
      kind: number,
      v: number | string | null,
    ];
    const rows = this.db
      .prepare<[], Row>(
        "SELECT p.topic, l.seen, l.t, l.status, l.kind, l.v FROM points p LEFT JOIN latest l ON l.point = p.id",
      )
      .raw()
      .all() as unknown as Row[];
    // A device is its topics' last three levels (`<family>/<id>/<deviceKey>`): restored whole or not at all.
    const deviceOf = (topic: string) => topic.slice(topic.indexOf("/", topic.indexOf("/") + 1) + 1);
    const recent = new Set<string>();
    for (const [topic, seen] of rows) if (seen !== null && seen >= cutoff) recent.add(deviceOf(topic));
    const restored: RestoredPoint[] = [];
    for (const [topic, seen, t, status, kind, v] of rows) {
      if (!recent.has(deviceOf(topic))) continue;
      const fresh = seen !== null && seen >= cutoff;
      restored.push({
        topic,
        last: fresh ? { value: latestValue(kind, v), sourceTime: t, serverTime: seen, status } : null,
      });
    }
    return restored;
  }

  /**
   * One record of point `id`: on the per-message path, so only a push onto the batch. `fresh`: a
   * value from the device (not a status change), kept as the point's latest for a restart.
   */
  append(id: number, record: HistoryRecord, fresh = false): void {
    if (this.full()) {
      this.figures.droppedByBacklog++;
      this.log.warn("backlog", "history backlog full: values dropped", {
        maxBacklog: this.options.maxBacklog,
      });
      return;
    }
    this.batch.append(id, record, fresh);
  }

  /** One event of the journal, committed with the next flush. */
  appendEvent(event: JournalEvent): void {
    if (this.full()) {
      this.figures.droppedByBacklog++;
      this.log.warn("backlog", "history backlog full: values dropped", {
        maxBacklog: this.options.maxBacklog,
      });
      return;
    }
    this.events.push(event);
  }

  /** Committed events in the range, a page at a time (JournalQuery.after). */
  readEvents(query: JournalQuery): JournalRow[] {
    return this.eventReader?.read(query) ?? [];
  }

  /**
   * The last event of each condition that was active, unacknowledged or unconfirmed when the
   * gateway stopped (what it had committed): read once at start.
   */
  openConditions(): { condition: string; fields: Uint8Array }[] {
    if (!this.db) return [];
    return this.db
      .prepare<[], { condition: string; fields: Uint8Array }>("SELECT condition, fields FROM open_conditions")
      .all();
  }

  private full(): boolean {
    return this.batch.length + this.events.length + this.inFlight >= this.options.maxBacklog;
  }

  /** Committed records of the point mirrored from `topic`; null when the store has never seen it. */
  read(topic: string, query: Omit<RangeQuery, "point">): HistoryRecord[] | null {
    const point = this.ids.get(topic);
    if (point === undefined || !this.reader) return null;
    return this.reader.read({ ...query, point });
  }

  private get forgetAfterDays(): number {
    return this.options.forgetAfterDays || this.options.retentionDays;
  }

  get counters(): Readonly<HistoryCounters> {
    this.figures.backlog = this.batch.length + this.events.length + this.inFlight;
    return this.figures;
  }

  /** Hands what was appended to the history thread now (the timer does so every flushInterval). */
  flush(): void {
    if (this.worker) this.flushTo(this.worker);
  }

  private flushTo(worker: Worker): void {
    if (this.batch.length === 0 && this.newTopics.length === 0 && this.events.length === 0) return;
    const { columns, transfer } = this.batch.take();
    const batch: Batch = { topics: this.newTopics, records: columns, events: this.events };
    this.inFlight += columns.length + this.events.length;
    this.newTopics = [];
    this.events = [];
    worker.postMessage({ t: "batch", batch } satisfies ToThread, transfer);
  }

  private fromThread(m: FromThread): void {
    if (m.t === "stopped") {
      this.stopped?.();
      return;
    }
    this.inFlight -= m.count;
    if (m.t === "failed") {
      this.figures.droppedByWriteError += m.count;
      // Their ids are in use: a point must never lose its name in the store, or a restart reuses it.
      this.newTopics.push(...m.topics);
      this.log.warn("write", "history write failed: values dropped", { error: m.message, values: m.count });
      return;
    }
    Object.assign(this.figures, m.figures);
  }
}
