import Database from "better-sqlite3";
import type { JournalQuery, JournalRow } from "../mapping/journal-types.js";
import { decodeChunk, type HistoryRecord } from "./chunk-codec.js";

export type Db = Database.Database;

/**
 * The store's tables. A point's values arrive one at a time but are kept packed: first as rows of
 * `recent` (one record each, committed every flush), then, once a point has CHUNK_VALUES of them
 * or its oldest is COMPACT_AFTER_MS old, packed into one `chunks` row (README, History: storage).
 * `latest` keeps each point's last fresh value and when the gateway received it (`seen`): what a
 * restart restores (README, History: continuity), read in one pass rather than from chunks. Its
 * value is a plain column (a blob each cost the read ~10 µs a row): `kind` tells a Boolean (0/1)
 * or a DateTime (epoch ms) from a number.
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
    found.sort(q.forward ? (a, b) => a.sourceTime - b.sourceTime : (a, b) => b.sourceTime - a.sourceTime);
    return found.slice(q.skip, q.limit === 0 ? undefined : q.skip + q.limit);
  }

  /** True when chunk `c` (and every one after it in this order) lies past the `need` nearest found. */
  private beyond(found: HistoryRecord[], c: ChunkRow, forward: boolean, need: number): boolean {
    const times = found.map((r) => r.sourceTime).sort((a, b) => (forward ? a - b : b - a));
    const last = times[need - 1]!;
    return forward ? c.start > last : c.end < last;
  }
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
