/**
 * The history thread: the store's only writer, so that no commit, packing or retention pass ever
 * holds the main thread (where the OPC UA address space lives); with history.postgres, also the
 * forwarder that ships what was committed to PostgreSQL. Started by HistoryStore.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  type AggregateValues,
  computeAggregate,
  computeAtTimes,
  intervalAt,
  type Series,
} from "../mapping/aggregates.js";
import { openDb, readRestorable, SeriesReader } from "./history-db.js";
import type { FromThread, HistoryThreadData, ReadQuery, ToThread } from "./history-protocol.js";
import { HistoryWriter } from "./history-writer.js";
import { Outbox } from "./outbox.js";
import { PostgresForwarder } from "./postgres-forwarder.js";

/** How often records waiting in `recent` are packed and retention applied. */
const UPKEEP_MS = 5000;
/**
 * How far beyond a read's times bounding values are looked for: an hour, or one ProcessingInterval
 * when longer (Part 13 3.1.8 asks at least one ProcessingInterval). A point silent longer than
 * that has no bound there (Bad_NoData, or extrapolated).
 */
const BOUND_SEARCH_MS = 3_600_000;

const port = parentPort!;
const data = workerData as HistoryThreadData;
const post = (m: FromThread) => port.postMessage(m);
const db = openDb(data.file);
const outbox = data.postgres ? new Outbox(db, data.postgres.maxBacklog) : null;
// history.postgres turned off: what waited to be shipped would only take room (history stays local).
if (!outbox) dropOutbox();
const writer = new HistoryWriter(db, data.file, data, outbox);
const forwarder =
  data.postgres && outbox
    ? new PostgresForwarder(db, outbox, data.postgres, (figures, note) =>
        post({ t: "shipping", figures, note }),
      )
    : null;
const series = new SeriesReader(db);

/**
 * Raw values a computation holds at once (20 bytes each: 80 MB). A read whose range holds more is
 * computed in parts, halving its intervals or times until each part's values fit (or it is one
 * interval or time, whose values are then all read).
 */
const MAX_SERIES_VALUES = 4_000_000;

/**
 * Values [first, first + count) of a read whose k-th value needs the raw values in `window(k, n)`,
 * computed by `compute` over them, in parts of at most MAX_SERIES_VALUES raw values.
 */
function inParts(
  point: number,
  first: number,
  count: number,
  window: (first: number, count: number) => [number, number],
  compute: (values: Series, first: number, count: number) => AggregateValues,
): AggregateValues {
  const [from, to] = window(first, count);
  const values = series.count(point, from, to);
  if (count > 1 && values > MAX_SERIES_VALUES) {
    const half = Math.floor(count / 2);
    return concat(
      inParts(point, first, half, window, compute),
      inParts(point, first + half, count - half, window, compute),
    );
  }
  return compute(series.read(point, from, to, values), first, count);
}

function concat(a: AggregateValues, b: AggregateValues): AggregateValues {
  const join = <T extends Float64Array | Uint32Array>(x: T, y: T, make: (n: number) => T): T => {
    const z = make(a.n + b.n);
    z.set(x.subarray(0, a.n));
    z.set(y.subarray(0, b.n), a.n);
    return z;
  };
  return {
    n: a.n + b.n,
    t: join(a.t, b.t, (n) => new Float64Array(n)),
    v: join(a.v, b.v, (n) => new Float64Array(n)),
    s: join(a.s, b.s, (n) => new Uint32Array(n)),
  };
}

/** A processed or at-time read over the values it needs, read as columns (never record objects). */
function answer(q: ReadQuery): AggregateValues {
  if (q.kind === "atTime") {
    const { times } = q;
    return inParts(
      q.point,
      0,
      times.length,
      (first, count) => {
        const part = times.slice(first, first + count);
        const lo = part.reduce((x, y) => Math.min(x, y));
        const hi = part.reduce((x, y) => Math.max(x, y));
        return [lo - BOUND_SEARCH_MS, hi + BOUND_SEARCH_MS];
      },
      (values, first, count) =>
        computeAtTimes(values, times.slice(first, first + count), q.simpleBounds, q.stepped, q.config),
    );
  }
  const { query } = q;
  const span = series.dataSpan(q.point);
  return inParts(
    q.point,
    q.first,
    q.count,
    (first, count) => {
      const a = intervalAt(query, first);
      const b = intervalAt(query, first + count - 1);
      const search = Math.max(BOUND_SEARCH_MS, Math.abs(a[1] - a[0]));
      return [Math.min(...a, ...b) - search, Math.max(...a, ...b) + search];
    },
    (values, first, count) => computeAggregate(values, query, span, first, count),
  );
}

function upkeep(): void {
  const now = Date.now();
  try {
    writer.upkeep(now);
    forwarder?.upkeep(now - data.retentionDays * 86_400_000);
    post({ t: "written", count: 0, figures: writer.figures });
  } catch (err) {
    post({ t: "failed", count: 0, ...failure(err), topics: [] });
    resync();
  }
}

let timer: NodeJS.Timeout | null = null;

/** Packing and retention from now on, every UPKEEP_MS. */
function startUpkeep(): void {
  if (timer) return;
  timer = setInterval(upkeep, UPKEEP_MS);
  upkeep();
}

if (!data.upkeepDeferred) startUpkeep();
forwarder?.start();

port.on("message", async (m: ToThread) => {
  if (m.t === "stop") {
    if (timer) clearInterval(timer);
    // What it has not shipped stays in the outbox, for the next start.
    await forwarder?.stop();
    db.close();
    post({ t: "stopped" });
    port.close();
    return;
  }
  if (m.t === "upkeep") {
    startUpkeep();
    return;
  }
  if (m.t === "restorable") {
    try {
      const columns = readRestorable(db, m.cutoff);
      const { ids, fresh, seen, t, status, kind } = columns;
      const transfer = [ids, fresh, seen, t, status, kind].map((a) => a.buffer as ArrayBuffer);
      port.postMessage({ t: "restorable", columns } satisfies FromThread, transfer);
    } catch (err) {
      post({ t: "restorable", columns: null, error: (err as Error).message });
    }
    return;
  }
  if (m.t === "read") {
    try {
      const values = answer(m.query);
      const transfer = [values.t, values.v, values.s].map((a) => a.buffer as ArrayBuffer);
      port.postMessage({ t: "read", id: m.id, values } satisfies FromThread, transfer);
    } catch (err) {
      post({ t: "read", id: m.id, values: null, error: (err as Error).message });
    }
    return;
  }
  // Events share the backlog with values: both wait for the same commit.
  const count = m.batch.records.length + m.batch.events.length;
  try {
    writer.write(m.batch);
    post({ t: "written", count, figures: writer.figures });
    forwarder?.wake();
  } catch (err) {
    // A full disk or an I/O error costs this batch, counted; the store decides when to try again.
    post({ t: "failed", count, ...failure(err), topics: m.batch.topics });
    resync();
  }
});

/** After a failed commit; one that fails too (the store unreadable) must not end the thread. */
function resync(): void {
  try {
    writer.resync();
  } catch {
    // The next batch meets the same fault, fails as this one did and is reported the same way.
  }
}

/** What the store needs of an error: SQLite's code tells a full disk from other failures. */
function failure(err: unknown): { message: string; code: string } {
  const { message, code } = err as { message: string; code?: unknown };
  return { message, code: typeof code === "string" ? code : "" };
}

/**
 * Empties the outbox, if there is anything in it: at start, before anything else, so that a full
 * disk (a delete writes too) must not end the thread; then it waits for a later start.
 */
function dropOutbox(): void {
  try {
    if (db.prepare("SELECT 1 FROM outbox LIMIT 1").get()) db.exec("DELETE FROM outbox");
  } catch {
    // Kept for a later start; the rows take no more room than they do now.
  }
}
