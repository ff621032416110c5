/**
 * The history thread: the store's only writer, so that no commit, packing or retention pass ever
 * holds the main thread (where the OPC UA address space lives). Started by HistoryStore.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type AggregateValues, computeAggregate, computeAtTimes, intervalAt } from "../mapping/aggregates.js";
import { openDb, SeriesReader } from "./history-db.js";
import type { FromThread, HistoryThreadData, ReadQuery, ToThread } from "./history-protocol.js";
import { HistoryWriter } from "./history-writer.js";

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
const writer = new HistoryWriter(db, data.file, data);
const series = new SeriesReader(db);

/** A processed or at-time read over the values it needs, read as columns (never record objects). */
function answer(q: ReadQuery): AggregateValues {
  if (q.kind === "atTime") {
    const from = q.times.reduce((a, b) => Math.min(a, b)) - BOUND_SEARCH_MS;
    const to = q.times.reduce((a, b) => Math.max(a, b)) + BOUND_SEARCH_MS;
    return computeAtTimes(series.read(q.point, from, to), q.times, q.simpleBounds, q.stepped, q.config);
  }
  const { query, first, count } = q;
  const a = intervalAt(query, first);
  const b = intervalAt(query, first + count - 1);
  const search = Math.max(BOUND_SEARCH_MS, Math.abs(a[1] - a[0]));
  const from = Math.min(...a, ...b) - search;
  const to = Math.max(...a, ...b) + search;
  return computeAggregate(series.read(q.point, from, to), query, series.dataSpan(q.point), first, count);
}

function upkeep(): void {
  try {
    writer.upkeep(Date.now());
    post({ t: "written", count: 0, figures: writer.figures });
  } catch (err) {
    post({ t: "failed", count: 0, message: (err as Error).message, topics: [] });
  }
}

const timer = setInterval(upkeep, UPKEEP_MS);
upkeep();

port.on("message", (m: ToThread) => {
  if (m.t === "stop") {
    clearInterval(timer);
    db.close();
    post({ t: "stopped" });
    port.close();
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
  const count = m.batch.records.length;
  try {
    writer.write(m.batch);
    post({ t: "written", count, figures: writer.figures });
  } catch (err) {
    // A full disk or an I/O error costs this batch, counted; the next one is tried as usual.
    post({ t: "failed", count, message: (err as Error).message, topics: m.batch.topics });
  }
});
