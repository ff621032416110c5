import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import type { GatewayConfig } from "../config/config-types.js";
import type { AggregateValues, Computation } from "../mapping/aggregates.js";
import type { HistoryCounters, PostgresShippingCounters } from "../mapping/counters.js";
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
  lockStore,
  openDb,
  type RangeQuery,
  RangeReader,
  type RestorableColumns,
} from "./history-db.js";
import type { Batch, FromThread, HistoryThreadData, ToThread } from "./history-protocol.js";
import type { ShippingNote } from "./postgres-forwarder.js";
import { loadPostgresOptions, noShippingYet } from "./postgres-options.js";
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
  /** Seconds appends are dropped after a full disk before a flush tries it again; absent: 10 (history.diskFullRetry). */
  diskFullRetry?: number;
  /** Shipping to PostgreSQL (README, History: PostgreSQL); absent or not enabled: none. */
  postgres?: GatewayConfig["history"]["postgres"];
}

/** After a full disk, how long appends are dropped before a flush tries the disk again, unless set. */
const DISK_FULL_RETRY_S = 10;

/** Why history records less than it should (README, Operations: readiness); the store being shut is the gateway's to say. */
export type HistoryDegradation =
  | { reason: "diskFull"; since: string; dropped: number }
  | { reason: "writeFailing"; since: string; error: string }
  | { reason: "backlog"; backlog: number; maxBacklog: number }
  /** Longer than history.postgres.unreachableAfter: what waits locally, and PostgreSQL's last error. */
  | { reason: "postgresUnreachable"; since: string; backlog: number; error: string };

/** A point of a device that published within forgetAfterDays, with its last fresh value (null: none). */
export interface RestoredPoint {
  topic: string;
  /** Its id in the store, which the mirror records it under (no lookup of the topic again). */
  id: number;
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
  /** This process's claim on the store (history-db.ts lockStore), held while it is open. */
  private lock: Db | null = null;
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
  /** Reads the history thread is computing, by id. */
  private readonly reads = new Map<
    number,
    { resolve: (v: AggregateValues) => void; reject: (e: Error) => void }
  >();
  private nextRead = 1;
  /** restorable() calls the history thread has not answered yet, in order. */
  private readonly restores: ((points: RestoredPoint[]) => void)[] = [];
  private readonly log: RateLimitedLog;
  private readonly figures: HistoryCounters = {
    written: 0,
    bytes: 0,
    backlog: 0,
    droppedByAge: 0,
    droppedBySize: 0,
    droppedByBacklog: 0,
    droppedByWriteError: 0,
    droppedByDiskFull: 0,
    postgres: null,
    eventsWritten: 0,
    eventsDroppedByAge: 0,
    eventsDroppedBySize: 0,
  };
  /** Appends are dropped (counted diskFull) until the retry timer lets a flush try the disk again. */
  private paused = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Since when the disk has been full (epoch ms), and what was dropped since; null while it is not. */
  private diskFull: { since: number; droppedBefore: number } | null = null;
  /** The last commit failed for another reason than a full disk, and none has succeeded since. */
  private writeFailing: { since: number; error: string } | null = null;

  constructor(
    private readonly options: HistoryOptions,
    private readonly logger: Logger,
  ) {
    this.log = new RateLimitedLog(logger);
  }

  /**
   * Opens the store (creating its folder and tables) and starts the history thread. False when the
   * store cannot be opened (logged): the gateway then mirrors without history rather than not at all.
   * `upkeepDeferred`: packing and retention wait for startUpkeep() (the gateway's start): after a
   * restart more than 10 minutes down, packing every point's waiting values took 3.4 s of CPU at
   * 100,000 points, beside the start on a 2-core machine.
   */
  start(upkeepDeferred = false): boolean {
    const file = join(this.options.folder, DB_FILE);
    // Secrets first: a password file that cannot be read stops the start (ProblemsError), listed.
    const postgres = this.options.postgres?.enabled ? loadPostgresOptions(this.options.postgres) : null;
    let db: Db;
    try {
      mkdirSync(this.options.folder, { recursive: true });
      // Before anything is read: a store another gateway writes is neither used nor moved aside.
      this.lock = lockStore(this.options.folder);
      db = this.open(file);
    } catch (err) {
      this.lock?.close();
      this.lock = null;
      this.logger.error("history store cannot be opened: running without history", {
        file,
        error: (err as Error).message,
      });
      return false;
    }
    this.db = db;
    this.reader = new RangeReader(db);
    this.eventReader = new EventReader(db);
    const data: HistoryThreadData = {
      file,
      retentionDays: this.options.retentionDays,
      maxBytes: this.options.maxBytes,
      forgetAfterDays: this.forgetAfterDays,
      postgres,
      upkeepDeferred,
    };
    if (postgres) this.figures.postgres = noShippingYet();
    const worker = newWorker(import.meta.url, "history-worker", data);
    worker.on("message", (m: FromThread) => this.fromThread(m));
    worker.on("error", (err) => {
      this.logger.error("history thread failed", { error: err.message });
      // Its answer will not come: a start that awaits it goes on without restoring.
      for (const resolve of this.restores.splice(0)) resolve([]);
    });
    worker.unref();
    this.worker = worker;
    this.timer = setInterval(() => this.flush(), this.options.flushInterval * 1000);
    this.timer.unref();
    this.logger.info("history store open", { file, points: this.ids.size });
    return true;
  }

  /**
   * Opens the store and reads its points. A file that is no database, or whose structure is
   * damaged, is moved aside (`history.sqlite.corrupt-<time>`, with its WAL) and a new one made: a
   * restart must not meet the same file and fail again. Other failures (a folder that cannot be
   * written, a file another process holds) throw: the file may be sound and is left alone.
   */
  private open(file: string): Db {
    try {
      return this.readPoints(openDb(file));
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      // SQLite's codes for a file that is no database, or whose structure is damaged (SQLITE_CORRUPT_*).
      if (code !== "SQLITE_NOTADB" && !code.startsWith("SQLITE_CORRUPT")) throw err;
      const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      for (const suffix of ["", "-wal", "-shm"])
        if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
      this.logger.error(
        "history store corrupt: moved aside, a new one made (its values are not in history)",
        {
          file,
          movedTo: aside,
          error: (err as Error).message,
          code,
        },
      );
      this.ids.clear();
      this.nextId = 1;
      return this.readPoints(openDb(file));
    }
  }

  /** The store's points and their ids (kept across restarts); a damaged table throws SQLITE_CORRUPT here. */
  private readPoints(db: Db): Db {
    try {
      // Rows as arrays, all at once: ~0.2 s at 100,000 points, against ~0.3 s for iterate() with an object a row.
      const rows = db
        .prepare<[], [number, string]>("SELECT id, topic FROM points")
        .raw()
        .all() as unknown as [number, string][];
      for (const [id, topic] of rows) {
        this.ids.set(topic, id);
        if (id >= this.nextId) this.nextId = id + 1;
      }
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Packing and retention begin now, after a start(true); at once otherwise. */
  startUpkeep(): void {
    this.worker?.postMessage({ t: "upkeep" } satisfies ToThread);
  }

  /** Sends what is waiting, waits for the thread to commit it and closes the store. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
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
    for (const read of this.reads.values()) read.reject(new Error("history store stopped"));
    // Nothing to restore into a gateway that stops (it may have failed before awaiting them).
    for (const resolve of this.restores.splice(0)) resolve([]);
    this.reads.clear();
    this.db?.close();
    this.db = null;
    this.reader = null;
    this.lock?.close();
    this.lock = null;
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
   * History: continuity). Read once at start, by the history thread (one pass over `latest`,
   * ~100,000 rows, 0.3-0.5 s of a loaded start's main thread when read there), while the main thread
   * loads the OPC UA server's standard nodeset; [] when the store is not open or the read fails (logged).
   */
  restorable(now = Date.now()): Promise<RestoredPoint[]> {
    const worker = this.worker;
    if (!worker) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.restores.push(resolve);
      // Unreferenced while running: an answer awaited must hold the process until it comes.
      worker.ref();
      const cutoff = now - this.forgetAfterDays * 86_400_000;
      worker.postMessage({ t: "restorable", cutoff } satisfies ToThread);
    });
  }

  /** The history thread's answer to restorable(), as the points the mirror restores. */
  private restored(columns: RestorableColumns | null, error?: string): void {
    const resolve = this.restores.shift();
    if (this.restores.length === 0) this.worker?.unref();
    if (!columns) {
      this.logger.error("history store: devices not restored, their values could not be read", { error });
      resolve?.([]);
      return;
    }
    const topics: string[] = [];
    for (const [topic, id] of this.ids) topics[id] = topic;
    const { ids, fresh, seen, t, status, kind, v } = columns;
    const points: RestoredPoint[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++)
      points[i] = {
        topic: topics[ids[i]!]!,
        id: ids[i]!,
        last:
          fresh[i] === 1
            ? {
                value: latestValue(kind[i]!, v[i]!),
                sourceTime: t[i]!,
                serverTime: seen[i]!,
                status: status[i]!,
              }
            : null,
      };
    resolve?.(points);
  }

  /**
   * One record of point `id`: on the per-message path, so only a push onto the batch. `fresh`: a
   * value from the device (not a status change), kept as the point's latest for a restart.
   */
  append(id: number, record: HistoryRecord, fresh = false): void {
    if (this.paused || this.full()) {
      this.refuse();
      return;
    }
    this.batch.append(id, record, fresh);
  }

  /** A value not appended: the disk is full (history paused), or the backlog is. */
  private refuse(): void {
    if (this.paused) {
      this.figures.droppedByDiskFull++;
      return;
    }
    this.figures.droppedByBacklog++;
    this.log.warn("backlog", "history backlog full: values dropped", { maxBacklog: this.options.maxBacklog });
  }

  /** Why history records less than it should, most serious first; null while it records all it is given. */
  degradation(): HistoryDegradation | null {
    const { diskFull, writeFailing } = this;
    if (diskFull)
      return {
        reason: "diskFull",
        since: new Date(diskFull.since).toISOString(),
        dropped: this.figures.droppedByDiskFull - diskFull.droppedBefore,
      };
    if (writeFailing)
      return {
        reason: "writeFailing",
        since: new Date(writeFailing.since).toISOString(),
        error: writeFailing.error,
      };
    const { backlog } = this.counters;
    // Half the bound: time to act before values are dropped.
    if (backlog >= this.options.maxBacklog / 2)
      return { reason: "backlog", backlog, maxBacklog: this.options.maxBacklog };
    const p = this.figures.postgres;
    const after = (this.options.postgres?.unreachableAfter ?? 0) * 1000;
    if (p && p.unreachableSince !== 0 && Date.now() - p.unreachableSince >= after)
      return {
        reason: "postgresUnreachable",
        since: new Date(p.unreachableSince).toISOString(),
        backlog: p.backlog,
        error: p.lastError,
      };
    return null;
  }

  /** One event of the journal, committed with the next flush. */
  appendEvent(event: JournalEvent): void {
    if (this.paused || this.full()) {
      this.refuse();
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

  /**
   * A processed or at-time read of the point mirrored from `topic`, computed in the history thread
   * over its committed values (`point` of the query is filled in here); null when the store has
   * never seen the point.
   */
  compute(topic: string, computation: Computation): Promise<AggregateValues> | null {
    const point = this.ids.get(topic);
    const worker = this.worker;
    if (point === undefined || !worker) return null;
    const id = this.nextRead++;
    return new Promise((resolve, reject) => {
      this.reads.set(id, { resolve, reject });
      worker.postMessage({ t: "read", id, query: { ...computation, point } } satisfies ToThread);
    });
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

  /**
   * A commit (or packing) found the disk full: history pauses, dropping what is appended (counted
   * diskFull) rather than holding it, for diskFullRetry seconds; then the next flush tries the disk.
   * Logged once a pause, however many retries fail; the mirror is not touched.
   */
  private pauseOnFullDisk(count: number, error: string): void {
    const retrySeconds = this.options.diskFullRetry ?? DISK_FULL_RETRY_S;
    this.figures.droppedByDiskFull += count;
    if (!this.diskFull) {
      this.diskFull = { since: Date.now(), droppedBefore: this.figures.droppedByDiskFull - count };
      this.logger.error("history paused: disk full; values are dropped until it takes writes again", {
        file: join(this.options.folder, DB_FILE),
        error,
        retrySeconds,
      });
    }
    this.paused = true;
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null;
      this.paused = false;
    }, retrySeconds * 1000);
    this.retryTimer.unref();
  }

  private fromThread(m: FromThread): void {
    if (m.t === "stopped") {
      this.stopped?.();
      return;
    }
    if (m.t === "restorable") {
      this.restored(m.columns, m.error);
      return;
    }
    if (m.t === "read") {
      const read = this.reads.get(m.id);
      this.reads.delete(m.id);
      if (m.values) read?.resolve(m.values);
      else read?.reject(new Error(m.error ?? "history read failed"));
      return;
    }
    if (m.t === "shipping") {
      this.shipped(m.figures, m.note);
      return;
    }
    this.inFlight -= m.count;
    if (m.t === "failed") {
      // Their ids are in use: a point must never lose its name in the store, or a restart reuses it.
      this.newTopics.push(...m.topics);
      if (m.code === "SQLITE_FULL") this.pauseOnFullDisk(m.count, m.message);
      else {
        this.figures.droppedByWriteError += m.count;
        this.writeFailing ??= { since: Date.now(), error: m.message };
        this.log.warn("write", "history write failed: values dropped", { error: m.message, values: m.count });
      }
      return;
    }
    // A batch committed (not an upkeep's report): the disk takes writes again.
    if (m.count > 0) {
      this.writeFailing = null;
      if (this.diskFull) {
        this.logger.info("history resumed: the disk takes writes again", {
          pausedSeconds: Math.round((Date.now() - this.diskFull.since) / 1000),
          dropped: this.figures.droppedByDiskFull - this.diskFull.droppedBefore,
        });
        this.diskFull = null;
      }
    }
    Object.assign(this.figures, m.figures);
  }

  private shipped(figures: PostgresShippingCounters, note?: ShippingNote): void {
    this.figures.postgres = figures;
    if (!note) return;
    if (note.level === "info") this.logger.info(note.message, note.context);
    else this.log.warn(note.key, note.message, note.context);
  }
}
