import { existsSync } from "node:fs";
import { join } from "node:path";
import { csvRecord } from "../shared/csv.js";
import { didYouMean } from "../shared/did-you-mean.js";
import { GatewayError } from "../shared/errors.js";
import type { HistoryRecord } from "./chunk-codec.js";
import { DB_FILE, type Db, openDb, RangeReader, storeBytes } from "./history-db.js";

/** One family's share of the store (a family is a topic's first level). */
export interface FamilyStats {
  family: string;
  points: number;
  values: number;
}

/** What `history stats` prints. Times are epoch ms, null in an empty store. */
export interface StoreStats {
  file: string;
  bytes: number;
  points: number;
  values: number;
  oldest: number | null;
  newest: number | null;
  families: FamilyStats[];
}

/**
 * Records exported at a time: a window of source time read whole (at 100 values a second an hour
 * is 360,000), so that a month's export never holds the month in memory.
 */
const EXPORT_WINDOW_MS = 3_600_000;

/**
 * The store opened read-only, for the command line (`history export`, `history stats`): SQLite's
 * write-ahead log lets it read what a running gateway has committed without holding its writer up.
 */
export class HistoryReport {
  private constructor(
    private readonly db: Db,
    readonly file: string,
  ) {}

  /** Opens the store in `folder`; a missing store is an error that names where it was looked for. */
  static open(folder: string): HistoryReport {
    const file = join(folder, DB_FILE);
    if (!existsSync(file))
      throw new GatewayError(
        "E_NO_STORE",
        `no history store at ${file} (history.folder, from the working directory)`,
      );
    return new HistoryReport(openDb(file, true), file);
  }

  close(): void {
    this.db.close();
  }

  /**
   * The records of the point mirrored from `topic` with a source time in [from, to), in
   * source-time order (the range as a HistoryRead takes it: Part 11, 3.1.8). Throws for a topic the
   * store has never had, naming the one meant when it is a typo.
   */
  *records(topic: string, from: number, to: number): Generator<HistoryRecord> {
    const point = this.db
      .prepare<[string], number>("SELECT id FROM points WHERE topic = ?")
      .pluck()
      .get(topic);
    if (point === undefined) {
      const topics = this.db.prepare<[], string>("SELECT topic FROM points").pluck().all();
      throw new GatewayError("E_NO_POINT", `the store has no point '${topic}'${didYouMean(topic, topics)}`);
    }
    const reader = new RangeReader(this.db);
    for (let start = from; start < to; start += EXPORT_WINDOW_MS) {
      // Times are whole milliseconds: [start, end) is [start, end - 1] to the reader.
      const end = Math.min(start + EXPORT_WINDOW_MS, to);
      yield* reader.read({ point, from: start, to: end - 1, forward: true, limit: 0, skip: 0 });
    }
  }

  /** Points, values and their time span, in all and per family; reads every row's header once. */
  stats(): StoreStats {
    const families = this.db
      .prepare<[], FamilyStats & { oldest: number | null; newest: number | null }>(
        `WITH v AS (SELECT point, n, start AS t0, end AS t1 FROM chunks
                    UNION ALL SELECT point, n, t, end FROM recent)
         SELECT substr(p.topic, 1, instr(p.topic, '/') - 1) AS family, count(DISTINCT p.id) AS points,
                coalesce(sum(v.n), 0) AS "values", min(v.t0) AS oldest, max(v.t1) AS newest
         FROM points p LEFT JOIN v ON v.point = p.id GROUP BY family ORDER BY family`,
      )
      .all();
    const times = (pick: (f: (typeof families)[number]) => number | null) =>
      families.map(pick).filter((t): t is number => t !== null);
    const oldest = times((f) => f.oldest);
    const newest = times((f) => f.newest);
    return {
      file: this.file,
      bytes: storeBytes(this.file),
      points: families.reduce((n, f) => n + f.points, 0),
      values: families.reduce((n, f) => n + f.values, 0),
      oldest: oldest.length > 0 ? Math.min(...oldest) : null,
      newest: newest.length > 0 ? Math.max(...newest) : null,
      families: families.map(({ family, points, values }) => ({ family, points, values })),
    };
  }
}

/** A record's status as a reader of the export needs it: the code in hex, and its severity (Part 4, 7.39). */
function statusOf(code: number): { statusCode: string; quality: "Good" | "Uncertain" | "Bad" } {
  const severity = code >>> 30;
  return {
    statusCode: `0x${code.toString(16).toUpperCase().padStart(8, "0")}`,
    quality: severity === 0 ? "Good" : severity === 1 ? "Uncertain" : "Bad",
  };
}

/** A value as text: a DateTime in ISO 8601, null as nothing. */
function exportedValue(v: HistoryRecord["value"]): string | number | boolean | null {
  return v instanceof Date ? v.toISOString() : v;
}

const CSV_COLUMNS = ["sourceTime", "serverTime", "value", "statusCode", "quality"];

/**
 * The export as text, a line at a time: CSV (a header first) or
 * a JSON array with one record a line, so that a month streams rather than builds.
 */
export function* exportLines(records: Iterable<HistoryRecord>, format: "csv" | "json"): Generator<string> {
  let first = true;
  if (format === "csv") yield csvRecord(CSV_COLUMNS);
  else yield "[";
  for (const r of records) {
    const sourceTime = new Date(r.sourceTime).toISOString();
    const serverTime = new Date(r.serverTime).toISOString();
    const { statusCode, quality } = statusOf(r.status);
    const value = exportedValue(r.value);
    if (format === "csv") yield csvRecord([sourceTime, serverTime, value, statusCode, quality]);
    else {
      yield `${first ? "\n" : ",\n"}${JSON.stringify({ sourceTime, serverTime, value, statusCode, quality })}`;
      first = false;
    }
  }
  if (format === "json") yield "\n]\n";
}
