/**
 * `npx tsx scripts/bench/history-store.ts`: the storage libraries a history store could use, measured
 * on this machine (README, History: why SQLite). Per candidate and layout:
 *   - write rate: values/s inserted in batched transactions (one batch a flush interval)
 *   - raw read of one day of 1 Hz values (86,400) of one point
 *   - bytes on disk per Double value, all overheads (WAL checkpointed, lock files counted)
 *   - crash: a child writing batches is killed with SIGKILL; the store is reopened and checked
 *
 * Layouts: "rows", one record per value keyed (point, time); "chunks", the packed form of
 * src/history/chunk-codec.ts, one record per 1,000 values of a point.
 *
 * Then the gateway's own store (src/history/history-store.ts), as the mirror uses it: what an
 * append costs the main thread per value, how fast its thread commits, and bytes per value.
 *
 *   npx tsx scripts/bench/history-store.ts [--points 20] [--values 86400] [--batch 10000]
 *
 * LMDB (`lmdb`) is not a dependency: `npm install --no-save lmdb` first to compare it too.
 */
import { execFileSync, fork } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { decodeChunk, encodeChunk, type HistoryRecord } from "../../src/history/chunk-codec.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";

const { values: args } = parseArgs({
  options: {
    points: { type: "string", default: "20" },
    values: { type: "string", default: "86400" },
    batch: { type: "string", default: "10000" },
    crashChild: { type: "string" },
    folder: { type: "string" },
  },
});
const POINTS = Number(args.points);
const PER_POINT = Number(args.values);
const BATCH = Number(args.batch);
const CHUNK = 1000;
const T0 = Date.UTC(2026, 10, 1);

/** A phase current: ~230 A with noise, two decimals, as a device publishes it; one a second. */
function valueAt(point: number, i: number): number {
  return Math.round((230 + 20 * Math.sin(i / 600 + point) + Math.random() * 3) * 100) / 100;
}

interface Store {
  name: string;
  /** Values of one batch: arrival order, i.e. time-major across points. */
  writeBatch(batch: { point: number; t: number; v: number }[]): void;
  readDay(point: number): number;
  close(): void;
}

function folderBytes(folder: string): number {
  return readdirSync(folder).reduce((sum, f) => sum + statSync(join(folder, f)).size, 0);
}

function sqliteRows(folder: string): Store {
  const db = new Database(join(folder, "h.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`CREATE TABLE IF NOT EXISTS v (point INTEGER, t INTEGER, value REAL, status INTEGER,
    server INTEGER, PRIMARY KEY (point, t)) WITHOUT ROWID`);
  const insert = db.prepare("INSERT INTO v VALUES (?, ?, ?, 0, ?)");
  const read = db
    .prepare("SELECT t, value, status, server FROM v WHERE point = ? AND t >= ? AND t < ?")
    .raw();
  return {
    name: "better-sqlite3 rows",
    writeBatch: db.transaction((batch: { point: number; t: number; v: number }[]) => {
      for (const r of batch) insert.run(r.point, r.t, r.v, 3);
    }),
    readDay: (point) => read.all(point, T0, T0 + PER_POINT * 1000).length,
    close: () => {
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
    },
  };
}

/** Chunks need the values of a point gathered first: what the store's compaction does. */
function chunked(
  batch: { point: number; t: number; v: number }[],
  pending: Map<number, HistoryRecord[]>,
  out: (point: number, start: number, end: number, n: number, data: Buffer) => void,
): void {
  for (const r of batch) {
    const list = pending.get(r.point) ?? [];
    pending.set(r.point, list);
    list.push({ value: r.v, sourceTime: r.t, serverTime: r.t + 3, status: 0 });
    if (list.length === CHUNK) {
      out(r.point, list[0]!.sourceTime, r.t, list.length, encodeChunk(list, list[0]!.sourceTime));
      pending.set(r.point, []);
    }
  }
}

function readChunks(rows: Iterable<{ start: number; data: Uint8Array }>): number {
  let n = 0;
  for (const c of rows)
    decodeChunk(c.data, c.start, () => {
      n++;
    });
  return n;
}

function sqliteChunks(folder: string): Store {
  const db = new Database(join(folder, "h.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`CREATE TABLE IF NOT EXISTS c (point INTEGER, start INTEGER, end INTEGER, n INTEGER, data BLOB,
    PRIMARY KEY (point, start)) WITHOUT ROWID`);
  const insert = db.prepare("INSERT INTO c VALUES (?, ?, ?, ?, ?)");
  const read = db.prepare("SELECT start, data FROM c WHERE point = ? AND end >= ? AND start < ?");
  const pending = new Map<number, HistoryRecord[]>();
  return {
    name: "better-sqlite3 chunks",
    writeBatch: db.transaction((batch: { point: number; t: number; v: number }[]) =>
      chunked(batch, pending, (p, s, e, n, d) => insert.run(p, s, e, n, d)),
    ),
    readDay: (point) =>
      readChunks(read.all(point, T0, T0 + PER_POINT * 1000) as { start: number; data: Uint8Array }[]),
    close: () => {
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
    },
  };
}

/** What the bench uses of lmdb's API. */
interface Lmdb {
  put(key: number[], value: Uint8Array): unknown;
  transactionSync(work: () => void): void;
  getRange(range: { start?: number[]; end?: number[] }): Iterable<{ key: unknown; value: unknown }>;
  close(): Promise<void>;
}
const lmdb = (await import("lmdb" as string).catch(() => null)) as {
  open(options: { path: string; encoding: "binary"; noSubdir: boolean }): Lmdb;
} | null;
const openLmdb = (options: { path: string; encoding: "binary"; noSubdir: boolean }) => lmdb!.open(options);

function lmdbRows(folder: string): Store {
  const db = openLmdb({ path: join(folder, "h.mdb"), encoding: "binary", noSubdir: true });
  return {
    name: "lmdb rows",
    writeBatch: (batch) => {
      db.transactionSync(() => {
        for (const r of batch) {
          const v = Buffer.allocUnsafe(13);
          v.writeDoubleLE(r.v, 0);
          v.writeUInt32LE(0, 8);
          v[12] = 3;
          db.put([r.point, r.t], v);
        }
      });
    },
    readDay: (point) => {
      let n = 0;
      for (const _ of db.getRange({ start: [point, T0], end: [point, T0 + PER_POINT * 1000] })) n++;
      return n;
    },
    close: () => void db.close(),
  };
}

function lmdbChunks(folder: string): Store {
  const db = openLmdb({ path: join(folder, "h.mdb"), encoding: "binary", noSubdir: true });
  const pending = new Map<number, HistoryRecord[]>();
  return {
    name: "lmdb chunks",
    writeBatch: (batch) => {
      db.transactionSync(() => chunked(batch, pending, (p, s, _e, _n, d) => db.put([p, s], d)));
    },
    readDay: (point) =>
      readChunks(
        (function* () {
          for (const { key, value } of db.getRange({ start: [point, 0], end: [point + 1, 0] }))
            yield { start: (key as number[])[1]!, data: value as Uint8Array };
        })(),
      ),
    close: () => void db.close(),
  };
}

const CANDIDATES: Record<string, (folder: string) => Store> = {
  "sqlite-rows": sqliteRows,
  "sqlite-chunks": sqliteChunks,
  ...(lmdb ? { "lmdb-rows": lmdbRows, "lmdb-chunks": lmdbChunks } : {}),
};

/** Writes every batch of the data set; returns values/s of the writes alone. */
function fill(store: Store): number {
  let spent = 0;
  let batch: { point: number; t: number; v: number }[] = [];
  for (let i = 0; i < PER_POINT; i++)
    for (let p = 0; p < POINTS; p++) {
      batch.push({ point: p, t: T0 + i * 1000, v: valueAt(p, i) });
      if (batch.length === BATCH) {
        const t = performance.now();
        store.writeBatch(batch);
        spent += performance.now() - t;
        batch = [];
      }
    }
  if (batch.length) store.writeBatch(batch);
  return (POINTS * PER_POINT) / (spent / 1000);
}

/** In a child: writes batches forever, printing the number of values committed after each. */
function crashChild(kind: string, folder: string): void {
  const store = CANDIDATES[kind]!(folder);
  let i = 0;
  for (;;) {
    const batch = [];
    for (let k = 0; k < BATCH; k++, i++) batch.push({ point: i % POINTS, t: T0 + i * 1000, v: i });
    store.writeBatch(batch);
    process.send!(i);
  }
}

/** Kills a writing child with SIGKILL, reopens the store: is it intact, and what did it lose? */
async function crash(kind: string): Promise<string> {
  const folder = mkdtempSync(join(tmpdir(), "history-crash-"));
  const child = fork(
    import.meta.filename,
    ["--crashChild", kind, "--folder", folder, "--points", String(POINTS)],
    {
      execArgv: ["--import", "tsx"],
    },
  );
  let committed = 0;
  child.on("message", (n) => {
    committed = n as number;
  });
  await new Promise((r) => setTimeout(r, 3000));
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  let found = 0;
  let verdict: string;
  if (kind.startsWith("sqlite")) {
    const db = new Database(join(folder, "h.sqlite"));
    verdict = String(db.pragma("integrity_check", { simple: true }));
    const table = kind === "sqlite-rows" ? "SELECT count(*) FROM v" : "SELECT coalesce(sum(n), 0) FROM c";
    found = db.prepare(table).pluck().get() as number;
    db.close();
  } else {
    const db = openLmdb({ path: join(folder, "h.mdb"), encoding: "binary", noSubdir: true });
    for (const { value } of db.getRange({}))
      found += kind === "lmdb-rows" ? 1 : readChunks([{ start: 0, data: value as Uint8Array }]);
    verdict = "opened";
    await db.close();
  }
  rmSync(folder, { recursive: true, force: true });
  // Chunked layouts keep the values of an open chunk in memory (the store puts them in a row table).
  return `${verdict}; committed ${committed}, found ${found}`;
}

/** The gateway's store: main-thread cost of append, the thread's commit rate, bytes on disk. */
async function gatewayStore(): Promise<string> {
  silenceLogging();
  const folder = mkdtempSync(join(tmpdir(), "history-store-"));
  const total = POINTS * PER_POINT;
  const store = new HistoryStore(
    { folder, flushInterval: 1, maxBacklog: total, retentionDays: 36500, maxBytes: 2 ** 40 },
    getLogger("bench:history"),
  );
  store.start();
  const ids = Array.from({ length: POINTS }, (_, p) => store.pointId(`11/${p}/3WA/Bench/ETU`));
  const records: HistoryRecord[] = [];
  for (let i = 0; i < PER_POINT; i++)
    for (let p = 0; p < POINTS; p++) {
      const t = T0 + i * 1000;
      records.push({ value: valueAt(p, i), sourceTime: t, serverTime: t + 3, status: 0 });
    }
  // As the mirror does at 50,000 msg/s: a second's appends, then the flush that hands them over.
  let appending = 0;
  let flushing = 0;
  const committing = performance.now();
  for (let k = 0; k < total; ) {
    const t = performance.now();
    for (const end = Math.min(total, k + 50_000); k < end; k++) store.append(ids[k % POINTS]!, records[k]!);
    const f = performance.now();
    store.flush();
    appending += f - t;
    flushing += performance.now() - f;
  }
  const appendNs = (appending * 1e6) / total;
  const flushNs = (flushing * 1e6) / total;
  while (store.counters.written < total) await new Promise((r) => setTimeout(r, 50));
  const reading = performance.now();
  const day = store.read("11/0/3WA/Bench/ETU", {
    from: T0,
    to: T0 + PER_POINT * 1000,
    forward: true,
    limit: 0,
    skip: 0,
  });
  const readMs = performance.now() - reading;
  const rate = total / ((performance.now() - committing) / 1000);
  await store.stop();
  const bytes = folderBytes(folder) / total;
  rmSync(folder, { recursive: true, force: true });
  return `gateway store: main thread ${appendNs.toFixed(0)} ns a value to append + ${flushNs.toFixed(0)} ns to hand over · read ${day?.length} values of a point ${readMs.toFixed(0)} ms · thread commits ${Math.round(rate).toLocaleString("en")} values/s · ${bytes.toFixed(1)} B/value on disk`;
}

async function main(): Promise<void> {
  if (args.crashChild) {
    crashChild(args.crashChild, args.folder!);
    return;
  }
  const cpu = execFileSync("nproc").toString().trim();
  console.log(
    `${POINTS} points × ${PER_POINT} values (1 Hz), batches of ${BATCH}; node ${process.version}, ${cpu} cores`,
  );
  for (const [kind, make] of Object.entries(CANDIDATES)) {
    const folder = mkdtempSync(join(tmpdir(), "history-bench-"));
    const store = make(folder);
    const rate = fill(store);
    const reads: number[] = [];
    let count = 0;
    for (let k = 0; k < Math.min(3, POINTS); k++) {
      const t = performance.now();
      count = store.readDay(k);
      reads.push(performance.now() - t);
    }
    store.close();
    const bytes = folderBytes(folder) / (POINTS * PER_POINT);
    rmSync(folder, { recursive: true, force: true });
    const crashed = await crash(kind);
    console.log(
      `${kind.padEnd(14)} write ${Math.round(rate).toLocaleString("en")} values/s · read ${count} values ` +
        `${reads.map((r) => r.toFixed(0)).join("/")} ms · ${bytes.toFixed(1)} B/value · kill -9: ${crashed}`,
    );
  }
  console.log(await gatewayStore());
}

await main();
