import { statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { DataSpan, Series } from "../mapping/aggregates.js";
import type { JournalQuery, JournalRow } from "../mapping/journal-types.js";
import { GatewayError } from "../shared/errors.js";
import { decodeChunk, decodeNumbers, type HistoryRecord } from "./chunk-codec.js";

export type Db = Database.Database;

/**
 * The store's tables. A point's values arrive one at a time but are kept packed: first as rows of
 * `recent` (one record each, committed every flush), then, once a point has CHUNK_VALUES of them
 * or its oldest is COMPACT_AFTER_MS old, packed into one `chunks` row (README, History: storage).
 * `latest` keeps each point's last fresh value and when the gateway received it (`seen`): what a
 * restart restores (README, History: continuity), read in one pass rather than from chunks. Its
 * value is a plain column (a blob each cost the read ~10 µs a row): `kind` tells a Boolean (0/1)
 * or a DateTime (epoch ms) from a number. `outbox` holds what is still to be shipped to PostgreSQL
 * (history.postgres): each commit's rows of `recent` once more, in commit order (`seq`, never
 * reused, so that PostgreSQL can say which was the last it took); `meta` names the store.
 * `events` is the event journal (README, History: event history): one row an event, its fields
 * packed by the OPC UA side (`fields`, opaque here), beside the columns a read selects on.
 * `open_conditions` keeps, per condition, the fields of its last event while it is active,
 * unacknowledged or unconfirmed: what a restart brings back, without reading the journal.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, topic TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS recent (
  point INTEGER NOT NULL, t INTEGER NOT NULL, end INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS recent_by_point ON recent (point, t);
CREATE TABLE IF NOT EXISTS chunks (
  point INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, n INTEGER NOT NULL,
  data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_point_start ON chunks (point, start);
CREATE INDEX IF NOT EXISTS chunks_by_point_end ON chunks (point, end);
CREATE INDEX IF NOT EXISTS chunks_by_end ON chunks (end);
CREATE TABLE IF NOT EXISTS latest (
  point INTEGER PRIMARY KEY, seen INTEGER NOT NULL, t INTEGER NOT NULL, status INTEGER NOT NULL,
  kind INTEGER NOT NULL, v);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, point INTEGER NOT NULL, t INTEGER NOT NULL, end INTEGER NOT NULL,
  n INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  t INTEGER NOT NULL, received INTEGER NOT NULL, source TEXT NOT NULL, type TEXT NOT NULL,
  condition TEXT NOT NULL, severity INTEGER NOT NULL, fields BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_time ON events (t);
CREATE INDEX IF NOT EXISTS events_by_source ON events (source, t);
CREATE TABLE IF NOT EXISTS open_conditions (condition TEXT PRIMARY KEY, fields BLOB NOT NULL);
`;

/** Values of a point packed into one chunk row. */
export const CHUNK_VALUES = 128;
/** A point's values wait at most this long in `recent`, however few there are. */
export const COMPACT_AFTER_MS = 10 * 60_000;

export const DB_FILE = "history.sqlite";
/** Held by the gateway that writes the store (lockStore). */
export const LOCK_FILE = "history.lock";

/**
 * Claims the store in `folder` for this process until the returned connection is closed: two
 * gateways writing one store would each give ids to points, the same id to different topics. An
 * exclusive lock on a small SQLite file of its own (a POSIX lock, which the OS releases when the
 * process dies, `kill -9` included), so that the store itself stays open to readers (the CLI).
 */
export function lockStore(folder: string): Db {
  const lock = new Database(join(folder, LOCK_FILE), { timeout: 0 });
  try {
    lock.pragma("locking_mode = EXCLUSIVE");
    // The first write takes the exclusive lock; in this mode it is kept until the connection closes.
    lock.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder;");
    lock.prepare("INSERT INTO holder (pid) VALUES (?)").run(process.pid);
    return lock;
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
    throw new GatewayError(
      "E_STORE_LOCKED",
      `the store is in use by another gateway (${LOCK_FILE} is locked)`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Opens (creating) the store. WAL with synchronous NORMAL: a commit survives a killed process,
 * and a power cut loses at most the last commits, never the file's consistency.
 */
export function openDb(file: string, readonly = false): Db {
  const db = new Database(file, { readonly, fileMustExist: readonly });
  if (!readonly) {
    // Taken only by a new file. A chunk row (~1.7 KB) spills into an overflow page of its own
    // beyond a quarter of a 4 KB page (36 bytes a value measured); 16 KB pages hold ten whole.
    db.pragma("page_size = 16384");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    // The WAL is truncated back to this after a checkpoint rather than keeping its largest size.
    db.pragma("journal_size_limit = 67108864");
    db.exec(SCHEMA);
  }
  return db;
}

/** The store's files as the disk sees them: the database and its write-ahead log. */
export function storeBytes(file: string): number {
  let bytes = 0;
  for (const f of [file, `${file}-wal`, `${file}-shm`])
    try {
      bytes += statSync(f).size;
    } catch {
      // The WAL and its index exist only while a connection is open in WAL mode.
    }
  return bytes;
}

/** Records of one point in [from, to] (epoch ms, both inclusive), in source-time order. */
export interface RangeQuery {
  point: number;
  from: number;
  to: number;
  forward: boolean;
  /** At most this many records after `skip`; 0: all. */
  limit: number;
  /** Records at the first time of the range (`from` forward, `to` in reverse) already returned. */
  skip: number;
}

interface ChunkRow {
  start: number;
  end: number;
  data: Uint8Array;
}

/** Prepared once per connection: a read is a few statements, not a parse each. */
export class RangeReader {
  private readonly forwardChunks;
  private readonly reverseChunks;
  private readonly recent;

  constructor(db: Db) {
    // Forward by start: a chunk starting after the records already found cannot hold earlier ones.
    this.forwardChunks = db.prepare<[number, number, number], ChunkRow>(
      "SELECT start, end, data FROM chunks WHERE point = ? AND start <= ? AND end >= ? ORDER BY start",
    );
    // In reverse by end, for the same reason mirrored.
    this.reverseChunks = db.prepare<[number, number, number], ChunkRow>(
      "SELECT start, end, data FROM chunks WHERE point = ? AND start <= ? AND end >= ? ORDER BY end DESC",
    );
    this.recent = db.prepare<[number, number, number], { t: number; data: Uint8Array }>(
      "SELECT t, data FROM recent WHERE point = ? AND t <= ? AND end >= ? ORDER BY rowid",
    );
  }

  read(q: RangeQuery): HistoryRecord[] {
    const found: HistoryRecord[] = [];
    const keep = (r: HistoryRecord) => {
      if (r.sourceTime >= q.from && r.sourceTime <= q.to) found.push(r);
    };
    const need = q.limit === 0 ? Number.POSITIVE_INFINITY : q.limit + q.skip;
    const chunks = (q.forward ? this.forwardChunks : this.reverseChunks).iterate(q.point, q.to, q.from);
    for (const c of chunks) {
      if (found.length >= need && this.beyond(found, c, q.forward, need)) break;
      decodeChunk(c.data, c.start, keep);
    }
    for (const row of this.recent.iterate(q.point, q.to, q.from)) decodeChunk(row.data, row.t, keep);
    // Chunks may overlap (a device's clock stepped back); a stable sort keeps arrival order at ties.
    // Only then: sorting a day of values already in order cost 10-30 ms.
    const order = q.forward
      ? (a: HistoryRecord, b: HistoryRecord) => a.sourceTime - b.sourceTime
      : (a: HistoryRecord, b: HistoryRecord) => b.sourceTime - a.sourceTime;
    let ordered = true;
    for (let i = 1; i < found.length && ordered; i++) ordered = order(found[i - 1]!, found[i]!) <= 0;
    if (!ordered) found.sort(order);
    return found.slice(q.skip, q.limit === 0 ? undefined : q.skip + q.limit);
  }

  /** True when chunk `c` (and every one after it in this order) lies past the `need` nearest found. */
  private beyond(found: HistoryRecord[], c: ChunkRow, forward: boolean, need: number): boolean {
    const times = found.map((r) => r.sourceTime).sort((a, b) => (forward ? a - b : b - a));
    const last = times[need - 1]!;
    return forward ? c.start > last : c.end < last;
  }
}

/**
 * A point's values in a range as columns (a Series), for aggregates in the history thread: the
 * chunks are decoded straight into typed arrays (2.6 million values, 52 MB, no object each).
 */
export class SeriesReader {
  private readonly chunks;
  private readonly recent;
  private readonly span;
  private readonly counted;

  constructor(db: Db) {
    this.chunks = db.prepare<[number, number, number], { start: number; data: Uint8Array }>(
      "SELECT start, data FROM chunks WHERE point = ? AND start <= ? AND end >= ? ORDER BY start",
    );
    this.recent = db.prepare<[number, number, number], { t: number; data: Uint8Array }>(
      "SELECT t, data FROM recent WHERE point = ? AND t <= ? AND end >= ? ORDER BY t, rowid",
    );
    this.counted = db.prepare<{ point: number; from: number; to: number }, { n: number }>(
      `SELECT (SELECT coalesce(sum(n), 0) FROM chunks WHERE point = @point AND start <= @to AND end >= @from)
            + (SELECT coalesce(sum(n), 0) FROM recent WHERE point = @point AND t <= @to AND end >= @from) AS n`,
    );
    this.span = db.prepare<{ point: number }, { first: number | null; last: number | null }>(
      `SELECT min(first) AS first, max(last) AS last FROM (
         SELECT min(start) AS first, max(end) AS last FROM chunks WHERE point = @point
         UNION ALL SELECT min(t), max(end) FROM recent WHERE point = @point)`,
    );
  }

  /**
   * The values of `point` with source times in [from, to], in source-time order. `capacity`: at
   * least as many as the rows hold (count()): the columns are made once at that size, not grown
   * (growing them, and a closure over arrays that change, cost ~40 % of a month's read).
   */
  read(point: number, from: number, to: number, capacity = this.count(point, from, to)): Series {
    const t = new Float64Array(capacity);
    const v = new Float64Array(capacity);
    const s = new Uint32Array(capacity);
    let n = 0;
    const sink = (time: number, value: number, status: number) => {
      if (time < from || time > to || n === capacity) return;
      t[n] = time;
      v[n] = value;
      s[n] = status;
      n++;
    };
    for (const c of this.chunks.iterate(point, to, from)) decodeNumbers(c.data, c.start, sink);
    for (const r of this.recent.iterate(point, to, from)) decodeNumbers(r.data, r.t, sink);
    return sorted({ n, t, v, s });
  }

  /** How many values read(point, from, to) would decode, at most (whole rows are counted). */
  count(point: number, from: number, to: number): number {
    return this.counted.get({ point, from, to })!.n;
  }

  /** The source times of the point's first and last stored values; null: none. */
  dataSpan(point: number): DataSpan | null {
    const row = this.span.get({ point });
    return row && row.first !== null && row.last !== null ? { first: row.first, last: row.last } : null;
  }
}

/** Chunks may overlap (a device's clock stepped back): a stable sort by time, only then. */
function sorted(x: Series): Series {
  let ordered = true;
  for (let i = 1; i < x.n && ordered; i++) ordered = x.t[i - 1]! <= x.t[i]!;
  if (ordered) return x;
  const order = Array.from({ length: x.n }, (_, i) => i).sort((a, b) => x.t[a]! - x.t[b]! || a - b);
  const y: Series = { n: x.n, t: new Float64Array(x.n), v: new Float64Array(x.n), s: new Uint32Array(x.n) };
  for (const [k, i] of order.entries()) {
    y.t[k] = x.t[i]!;
    y.v[k] = x.v[i]!;
    y.s[k] = x.s[i]!;
  }
  return y;
}

/** `latest.kind`: how `latest.v` is read back. */
const LATEST_PLAIN = 0;
const LATEST_BOOLEAN = 1;
const LATEST_DATE = 2;

/** A value as `latest` keeps it: [kind, v]. */
export function latestColumns(value: HistoryRecord["value"]): [number, number | string | null] {
  if (typeof value === "boolean") return [LATEST_BOOLEAN, value ? 1 : 0];
  if (value instanceof Date) return [LATEST_DATE, value.getTime()];
  return [LATEST_PLAIN, value];
}

/** The value `latestColumns` kept. */
export function latestValue(kind: number, v: number | string | null): HistoryRecord["value"] {
  if (kind === LATEST_BOOLEAN) return v === 1;
  if (kind === LATEST_DATE) return new Date(v as number);
  return v;
}

/** Reads the journal page by page: keyset on (time, rowid), so a page costs its own rows only. */
export class EventReader {
  private readonly statements = new Map<string, ReturnType<Db["prepare"]>>();

  constructor(private readonly db: Db) {}

  read(q: JournalQuery): JournalRow[] {
    const key = `${q.source === null}${q.forward}${q.after === null}`;
    let statement = this.statements.get(key);
    if (!statement) {
      const order = q.forward ? "" : " DESC";
      const beyond = q.forward ? ">" : "<";
      statement = this.db.prepare(
        `SELECT rowid AS id, t, type, condition, fields FROM events WHERE t >= @from AND t <= @to${
          q.source === null ? "" : " AND source = @source"
        }${q.after === null ? "" : ` AND (t, rowid) ${beyond} (@afterT, @afterId)`} ORDER BY t${order}, rowid${order} LIMIT @limit`,
      );
      this.statements.set(key, statement);
    }
    return statement.all({
      from: q.from,
      to: q.to,
      limit: q.limit === 0 ? -1 : q.limit,
      ...(q.source === null ? {} : { source: q.source }),
      ...(q.after === null ? {} : { afterT: q.after.t, afterId: q.after.id }),
    }) as JournalRow[];
  }
}

/**
 * What restorable() restores, as columns the history thread moves to the main thread without
 * copying (but `v`): the points of every device that published (a fresh value received) since
 * `cutoff`, in id order, each with its last fresh value where it has one since then.
 */
export interface RestorableColumns {
  ids: Int32Array;
  /** 1: the point's last fresh value is in seen/t/status/kind/v at its index; 0: none since cutoff. */
  fresh: Uint8Array;
  seen: Float64Array;
  t: Float64Array;
  status: Float64Array;
  kind: Uint8Array;
  v: (number | string | null)[];
}

/** Read in the history thread, beside the main thread's start (one pass over points and latest). */
export function readRestorable(db: Db, cutoff: number): RestorableColumns {
  type Row = [
    point: number,
    seen: number,
    t: number,
    status: number,
    kind: number,
    v: number | string | null,
  ];
  const latest: Row[] = [];
  for (const row of db
    .prepare<[], Row>("SELECT point, seen, t, status, kind, v FROM latest")
    .raw()
    .all() as unknown as Row[])
    latest[row[0]] = row;
  const points = db
    .prepare<[], [number, string]>("SELECT id, topic FROM points ORDER BY id")
    .raw()
    .all() as unknown as [number, string][];
  // A device is its topics' last three levels (`<family>/<id>/<deviceKey>`): restored whole or not at all.
  const deviceOf = (topic: string) => topic.slice(topic.indexOf("/", topic.indexOf("/") + 1) + 1);
  const isFresh = (row: Row | undefined): row is Row => row !== undefined && row[1] >= cutoff;
  const recent = new Set<string>();
  for (const [id, topic] of points) if (isFresh(latest[id])) recent.add(deviceOf(topic));
  const kept = points.filter(([, topic]) => recent.has(deviceOf(topic)));
  const n = kept.length;
  const c: RestorableColumns = {
    ids: new Int32Array(n),
    fresh: new Uint8Array(n),
    seen: new Float64Array(n),
    t: new Float64Array(n),
    status: new Float64Array(n),
    kind: new Uint8Array(n),
    v: new Array(n).fill(null),
  };
  for (const [i, [id]] of kept.entries()) {
    c.ids[i] = id;
    const row = latest[id];
    if (!isFresh(row)) continue;
    c.fresh[i] = 1;
    c.seen[i] = row[1];
    c.t[i] = row[2];
    c.status[i] = row[3];
    c.kind[i] = row[4];
    c.v[i] = row[5];
  }
  return c;
}
