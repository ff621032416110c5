/**
 * The history thread: the store's only writer, so that no commit, packing or retention pass ever
 * holds the main thread (where the OPC UA address space lives); with history.postgres, also the
 * forwarder that ships what was committed to PostgreSQL. Started by HistoryStore.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openDb } from "./history-db.js";
import type { FromThread, HistoryThreadData, ToThread } from "./history-protocol.js";
import { HistoryWriter } from "./history-writer.js";
import { Outbox } from "./outbox.js";
import { PostgresForwarder } from "./postgres-forwarder.js";

/** How often records waiting in `recent` are packed and retention applied. */
const UPKEEP_MS = 5000;

const port = parentPort!;
const data = workerData as HistoryThreadData;
const post = (m: FromThread) => port.postMessage(m);
const db = openDb(data.file);
const outbox = data.postgres ? new Outbox(db, data.postgres.maxBacklog) : null;
// history.postgres turned off: what waited to be shipped would only take room (history stays local).
if (!outbox) db.exec("DELETE FROM outbox");
const writer = new HistoryWriter(db, data.file, data, outbox);
const forwarder =
  data.postgres && outbox
    ? new PostgresForwarder(db, outbox, data.postgres, (figures, note) =>
        post({ t: "shipping", figures, note }),
      )
    : null;

function upkeep(): void {
  const now = Date.now();
  try {
    writer.upkeep(now);
    forwarder?.upkeep(now - data.retentionDays * 86_400_000);
    post({ t: "written", count: 0, figures: writer.figures });
  } catch (err) {
    post({ t: "failed", count: 0, message: (err as Error).message, topics: [] });
  }
}

const timer = setInterval(upkeep, UPKEEP_MS);
upkeep();
forwarder?.start();

port.on("message", async (m: ToThread) => {
  if (m.t === "stop") {
    clearInterval(timer);
    // What it has not shipped stays in the outbox, for the next start.
    await forwarder?.stop();
    db.close();
    post({ t: "stopped" });
    port.close();
    return;
  }
  const count = m.batch.records.length;
  try {
    writer.write(m.batch);
    post({ t: "written", count, figures: writer.figures });
    forwarder?.wake();
  } catch (err) {
    // A full disk or an I/O error costs this batch, counted; the next one is tried as usual.
    post({ t: "failed", count, message: (err as Error).message, topics: m.batch.topics });
  }
});
