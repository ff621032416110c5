/**
 * The history thread: the store's only writer, so that no commit, packing or retention pass ever
 * holds the main thread (where the OPC UA address space lives). Started by HistoryStore.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openDb } from "./history-db.js";
import type { FromThread, HistoryThreadData, ToThread } from "./history-protocol.js";
import { HistoryWriter } from "./history-writer.js";

/** How often records waiting in `recent` are packed and retention applied. */
const UPKEEP_MS = 5000;

const port = parentPort!;
const data = workerData as HistoryThreadData;
const post = (m: FromThread) => port.postMessage(m);
const db = openDb(data.file);
const writer = new HistoryWriter(db, data.file, data);

function upkeep(): void {
  try {
    writer.upkeep(Date.now());
    post({ t: "written", count: 0, figures: writer.figures });
  } catch (err) {
    post({ t: "failed", count: 0, ...failure(err), topics: [] });
    resync();
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
  const count = m.batch.records.length;
  try {
    writer.write(m.batch);
    post({ t: "written", count, figures: writer.figures });
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
