/**
 * A process that records into a history store as the gateway does, for a test to kill (-9):
 * `tsx history-writer-child.ts <folder> <flushInterval s> <topic> <t0 epoch ms>`. Appends value i
 * of `topic` at source time t0 + i ms, one every millisecond, and reports over IPC the last i
 * appended, every 50 ms.
 */
import { HistoryStore } from "../../src/history/history-store.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";

silenceLogging();
const [folder, flushInterval, topic, t0] = process.argv.slice(2);
const store = new HistoryStore(
  {
    folder: folder!,
    flushInterval: Number(flushInterval),
    maxBacklog: 1_000_000,
    retentionDays: 36500,
    maxBytes: 2 ** 40,
  },
  getLogger("test:history-child"),
);
if (!store.start()) process.exit(1);
const id = store.pointId(topic!);
let i = 0;
const began = performance.now();
setInterval(() => {
  // Catch up with the clock: one value a millisecond since the start.
  const due = Math.floor(performance.now() - began);
  for (; i < due; i++)
    store.append(id, { value: i, sourceTime: Number(t0) + i, serverTime: Date.now(), status: 0 });
  process.send!(i - 1);
}, 50);
