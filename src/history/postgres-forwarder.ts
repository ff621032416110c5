import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { PostgresShippingCounters } from "../mapping/counters.js";
import { decodeRecords, type HistoryRecord } from "./chunk-codec.js";
import type { Db } from "./history-db.js";
import type { Outbox, OutboxRow } from "./outbox.js";
import { noShippingYet } from "./postgres-options.js";
import { type SchemaOptions, schemaStatements, type TableMode } from "./postgres-schema.js";

/** What the history thread needs to reach PostgreSQL (structured-clone safe; secrets already read). */
export interface PostgresThreadOptions extends SchemaOptions {
  connection: pg.ClientConfig;
  gateway: string;
  batchSize: number;
  maxBacklog: number;
}

/** A line for the main thread's log (the history thread has no logger of its own). */
export interface ShippingNote {
  level: "info" | "warn";
  /** Rate-limit key for warnings. */
  key: string;
  message: string;
  context: Record<string, unknown>;
}

/** First wait after a failure; doubled each time, up to MAX_RETRY_MS. */
const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;
/** An idle forwarder looks at the outbox this often (a commit wakes it sooner). */
const IDLE_MS = 1000;
/** How long a ROLLBACK or a disconnect is waited for. */
const SETTLE_MS = 2000;
/** How long stop() lets a batch in flight finish. */
const STOP_WAIT_MS = 2000;
/** Plain tables: old rows are deleted this often (TimescaleDB has its own retention policy). */
const RETENTION_EVERY_MS = 3_600_000;

/**
 * Ships the local store's outbox to PostgreSQL, in commit order, in the history thread: the main
 * thread never waits on the network. One transaction per batch COPYs the values and records the
 * batch's last seq in `shipped`; after a lost connection the forwarder reads that seq back, so a
 * batch whose COMMIT went through but whose answer was lost is not sent twice, and one that did
 * not go through is sent again. Nothing is removed from the outbox before PostgreSQL has it.
 */
export class PostgresForwarder {
  readonly figures = noShippingYet();
  private client: pg.Client | null = null;
  /** Local point id → id in PostgreSQL's `points`. */
  private readonly remoteIds = new Map<number, number>();
  private readonly topicOf;
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private retryMs = MIN_RETRY_MS;
  private lastRetention = 0;

  constructor(
    db: Db,
    private readonly outbox: Outbox,
    private readonly options: PostgresThreadOptions,
    private readonly report: (figures: PostgresShippingCounters, note?: ShippingNote) => void,
  ) {
    this.topicOf = db.prepare<[number], string>("SELECT topic FROM points WHERE id = ?").pluck();
    this.figures.backlog = outbox.values;
  }

  start(): void {
    this.running = this.run();
  }

  /** A commit added rows: ship them now rather than at the next look. */
  wake(): void {
    this.figures.backlog = this.outbox.values;
    this.wakeUp?.();
  }

  /** Retention of the outbox itself (the thread's upkeep): what waits too long or too much goes. */
  upkeep(cutoff: number): void {
    const { byAge, byBacklog } = this.outbox.trim(cutoff);
    this.figures.droppedByAge += byAge;
    this.figures.droppedByBacklog += byBacklog;
    this.figures.backlog = this.outbox.values;
    // Also without a drop: the backlog metric moves while retries wait up to MAX_RETRY_MS.
    this.report(
      this.figures,
      byAge + byBacklog > 0
        ? {
            level: "warn",
            key: "postgres-dropped",
            message: "history values not shipped to PostgreSQL were dropped",
            context: { byAge, byBacklog, maxBacklog: this.options.maxBacklog },
          }
        : undefined,
    );
  }

  /**
   * Lets the batch in flight finish for up to STOP_WAIT_MS, then cuts the connection (PostgreSQL
   * rolls that batch back; it stays in the outbox, as does everything not shipped, for the next start).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await Promise.race([this.running, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    await this.disconnect();
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let phase: keyof PostgresShippingCounters["errors"] = "connect";
      try {
        if (!this.client) {
          await this.connect();
          phase = "schema";
          await this.prepare();
        }
        phase = "ship";
        const rows = this.outbox.take(this.options.batchSize);
        if (rows.length === 0) {
          await this.retain();
          await this.idle(IDLE_MS);
          continue;
        }
        await this.ship(rows);
        this.retryMs = MIN_RETRY_MS;
      } catch (err) {
        await this.failed(phase, err as Error);
      }
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.options.connection);
    // An error on an idle connection (the server went away) must not become an uncaught one; the
    // next query fails and is handled there.
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (err) {
      await settled(client.end());
      throw err;
    }
    this.client = client;
  }

  /**
   * Makes the tables (under an advisory lock: several gateways may start together) and finds
   * what the database already has of this store. TimescaleDB when the extension is installed, or
   * available and installable by this user; plain tables otherwise. An existing `samples` keeps
   * the kind it was made as.
   */
  private async prepare(): Promise<void> {
    const c = this.client!;
    const s = this.options.schema;
    await c.query("BEGIN");
    try {
      await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`smartgear-history:${s}`]);
      const exists =
        (await c.query("SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'samples'", [s]))
          .rowCount! > 0;
      const mode = exists ? await this.existingMode() : await this.newMode();
      for (const sql of schemaStatements(this.options, mode)) await c.query(sql);
      await c.query("COMMIT");
      this.figures.mode = mode;
    } catch (err) {
      await settled(c.query("ROLLBACK"));
      throw err;
    }
    const done = await c.query<{ seq: string }>(
      `SELECT seq FROM ${s}.shipped WHERE gateway = $1 AND store = $2`,
      [this.options.gateway, this.outbox.storeId],
    );
    // A batch committed there whose answer was lost: it is not sent again.
    if (done.rows[0]) this.outbox.remove(Number(done.rows[0].seq));
    const wasDown = this.figures.unreachableSince;
    this.figures.unreachableSince = 0;
    this.figures.backlog = this.outbox.values;
    this.report(this.figures, {
      level: "info",
      key: "postgres-connected",
      message: wasDown
        ? "PostgreSQL reachable again: shipping the backlog"
        : "shipping history to PostgreSQL",
      context: {
        host: this.options.connection.host,
        database: this.options.connection.database,
        schema: s,
        tables: this.figures.mode,
        backlog: this.figures.backlog,
      },
    });
  }

  private async existingMode(): Promise<TableMode> {
    const c = this.client!;
    const installed =
      (await c.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).rowCount! > 0;
    if (!installed) return "plain";
    const hyper = await c.query(
      "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_schema = $1 AND hypertable_name = 'samples'",
      [this.options.schema],
    );
    return hyper.rowCount! > 0 ? "timescaledb" : "plain";
  }

  private async newMode(): Promise<TableMode> {
    const c = this.client!;
    if ((await c.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).rowCount! > 0)
      return "timescaledb";
    const available = await c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'");
    if (available.rowCount === 0) return "plain";
    // Installing needs the right to (and TimescaleDB in shared_preload_libraries): tried in a
    // savepoint, so that a refusal leaves plain tables rather than a failed start.
    await c.query("SAVEPOINT timescale");
    try {
      await c.query("CREATE EXTENSION IF NOT EXISTS timescaledb");
      return "timescaledb";
    } catch (err) {
      await c.query("ROLLBACK TO SAVEPOINT timescale");
      this.report(this.figures, {
        level: "warn",
        key: "postgres-timescaledb",
        message: "TimescaleDB is available but cannot be installed: plain tables",
        context: { error: (err as Error).message },
      });
      return "plain";
    }
  }

  /** One transaction: the rows' values by COPY, and the last seq in `shipped`. */
  private async ship(rows: OutboxRow[]): Promise<void> {
    const c = this.client!;
    const s = this.options.schema;
    const ids = await this.pointIds(rows);
    const last = rows.at(-1)!.seq;
    let values = 0;
    let unshippable = 0;
    const lines: string[] = [];
    for (const row of rows) {
      const id = ids.get(row.point)!;
      const records = decodeRecords(row.data, row.t);
      values += records.length;
      for (const r of records)
        if (inPostgresRange(r.sourceTime) && inPostgresRange(r.serverTime)) lines.push(copyLine(id, r));
        else unshippable++;
    }
    if (unshippable > 0) {
      this.figures.droppedRejected += unshippable;
      this.report(this.figures, {
        level: "warn",
        key: "postgres-time",
        message:
          "history values with a time PostgreSQL cannot take (before year 1 or after 9999): not shipped",
        context: { values: unshippable },
      });
    }
    await c.query("BEGIN");
    try {
      const copy = c.query(
        copyFrom(`COPY ${s}.samples (time, server_time, value, point_id, status, text) FROM STDIN`),
      );
      await pipeline(Readable.from(batches(lines)), copy);
      await c.query(
        `INSERT INTO ${s}.shipped (gateway, store, seq) VALUES ($1, $2, $3)
         ON CONFLICT (gateway, store) DO UPDATE SET seq = EXCLUDED.seq, at = now()`,
        [this.options.gateway, this.outbox.storeId, last],
      );
      await c.query("COMMIT");
    } catch (err) {
      await settled(c.query("ROLLBACK"));
      // Class 22 (data exception): these values would be refused on every try; they go, counted,
      // rather than hold up everything behind them.
      if ((err as { code?: string }).code?.startsWith("22")) {
        this.outbox.remove(last);
        this.figures.droppedRejected += values;
        this.report(this.figures, {
          level: "warn",
          key: "postgres-rejected",
          message: "PostgreSQL refused history values: dropped",
          context: { values, error: (err as Error).message },
        });
        return;
      }
      throw err;
    }
    this.outbox.remove(last);
    this.figures.shipped += values - unshippable;
    this.figures.lastSuccess = Date.now();
    this.figures.backlog = this.outbox.values;
    this.report(this.figures);
  }

  /** PostgreSQL's ids of the rows' points, made on first use (by any gateway: ON CONFLICT). */
  private async pointIds(rows: OutboxRow[]): Promise<Map<number, number>> {
    const missing = [...new Set(rows.map((r) => r.point).filter((p) => !this.remoteIds.has(p)))];
    if (missing.length > 0) {
      const s = this.options.schema;
      const topics = missing.map((p) => this.topicOf.get(p)!);
      const c = this.client!;
      await c.query(
        `INSERT INTO ${s}.points (gateway, point) SELECT $1, unnest($2::text[]) ON CONFLICT (gateway, point) DO NOTHING`,
        [this.options.gateway, topics],
      );
      const found = await c.query<{ id: number; point: string }>(
        `SELECT id, point FROM ${s}.points WHERE gateway = $1 AND point = ANY($2::text[])`,
        [this.options.gateway, topics],
      );
      const byTopic = new Map(found.rows.map((r) => [r.point, r.id]));
      for (const [i, p] of missing.entries()) this.remoteIds.set(p, byTopic.get(topics[i]!)!);
    }
    return this.remoteIds;
  }

  /** Plain tables: this gateway's rows older than retentionDays, hourly. */
  private async retain(): Promise<void> {
    const { retentionDays, schema: s } = this.options;
    const now = Date.now();
    if (this.figures.mode !== "plain" || retentionDays <= 0 || now - this.lastRetention < RETENTION_EVERY_MS)
      return;
    this.lastRetention = now;
    await this.client!.query(
      `DELETE FROM ${s}.samples WHERE time < $1 AND point_id IN (SELECT id FROM ${s}.points WHERE gateway = $2)`,
      [new Date(now - retentionDays * 86_400_000), this.options.gateway],
    );
  }

  private async failed(phase: keyof PostgresShippingCounters["errors"], err: Error): Promise<void> {
    // A connection cut by stop(): not a fault of PostgreSQL's.
    if (this.stopping) return;
    this.figures.errors[phase]++;
    this.figures.lastError = err.message;
    if (this.figures.unreachableSince === 0) this.figures.unreachableSince = Date.now();
    this.figures.backlog = this.outbox.values;
    this.report(this.figures, {
      level: "warn",
      key: `postgres-${phase}`,
      message: "PostgreSQL history shipping failed: values kept locally, retrying",
      context: {
        phase,
        error: err.message,
        code: (err as { code?: string }).code,
        backlog: this.figures.backlog,
        retryInMs: this.retryMs,
      },
    });
    await this.disconnect();
    await this.idle(this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = null;
    // Ids are PostgreSQL's: asked again on the next connection (the database may be another one).
    this.remoteIds.clear();
    if (client) await settled(client.end());
  }

  private idle(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }
}

/**
 * Waits for `p` at most SETTLE_MS, its failure ignored: a ROLLBACK or a goodbye on a connection
 * that stopped answering (half-open) must not hold the forwarder; pg times the statement out.
 */
async function settled(p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise((r) => (timer = setTimeout(r, SETTLE_MS)))]);
  clearTimeout(timer);
}

/** COPY text format (PostgreSQL docs, COPY: File Formats): tab-separated, \N for null. */
function copyLine(pointId: number, r: HistoryRecord): string {
  const v = r.value;
  const value = typeof v === "number" ? String(v) : typeof v === "boolean" ? (v ? "1" : "0") : "\\N";
  const text =
    typeof v === "string"
      ? escapeCopy(v)
      : v instanceof Date && !Number.isNaN(v.getTime())
        ? v.toISOString()
        : "\\N";
  const time = new Date(r.sourceTime).toISOString();
  const serverTime = new Date(r.serverTime).toISOString();
  // int4 holds the StatusCode's 32 bits as a signed number (the view shows it unsigned).
  return `${time}\t${serverTime}\t${value}\t${pointId}\t${r.status | 0}\t${text}\n`;
}

/** 0001-01-01 to 9999-12-31 UTC: what toISOString writes as PostgreSQL reads it (a year of four digits). */
const EARLIEST = -62_135_596_800_000;
const LATEST = 253_402_300_799_999;

function inPostgresRange(ms: number): boolean {
  return ms >= EARLIEST && ms <= LATEST;
}

/** Backslash, tab, line breaks escaped; NUL removed (a PostgreSQL text cannot hold it). */
function escapeCopy(s: string): string {
  return s.replace(/[\\\t\n\r\0]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "",
  );
}

/** The lines in pieces of ~1,000, so that a stream write is neither one line nor one huge string. */
function* batches(lines: string[]): Generator<string> {
  for (let i = 0; i < lines.length; i += 1000) yield lines.slice(i, i + 1000).join("");
}
