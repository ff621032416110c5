/**
 * Slow OPC UA client: a client stops sending Publish requests while its monitored items change
 * fast; the gateway's heap must level off (queues capped by queueSize) and another client's
 * notifications must keep their pace. See test/harness/slow-client-rig.ts.
 */
import { describeSlowClient, percentile, runSlowClient } from "../../test/harness/slow-client-rig.js";
import type { SoakScenario } from "./main.js";

export const scenario: SoakScenario = {
  name: "slow-client",
  describe:
    "an OPC UA client stops sending Publish requests while 1,460-5,840 items change: heap and other client's latency",
  async run({ quick, log }) {
    const r = await runSlowClient(
      quick
        ? { devices: 4, queueSize: 100, minSeconds: 10, maxSeconds: 25 }
        : { devices: 16, queueSize: 100, minSeconds: 60, maxSeconds: 120 },
    );
    log(describeSlowClient(r));
    if (r.flatFrom < 0) throw new Error("the heap did not level off: queues are not bounded");
    const peak = Math.max(...r.heap);
    return {
      "monitored items (no Publish)": r.items,
      "queueSize (revised)": r.revisedQueue,
      "changes/s": r.messagesPerSecond,
      seconds: Math.round(r.seconds),
      "heap growth, MiB (after GC)": Math.round(r.heap.at(-1)! * 10) / 10,
      "heap flat from second": r.flatFrom + 1,
      "bytes per queued value": Math.round((peak * 2 ** 20) / (r.items * r.revisedQueue)),
      "other client latency p50 ms (quiet)": Math.round(percentile(r.quiet, 50)),
      "other client latency p99 ms (quiet)": Math.round(percentile(r.quiet, 99)),
      "other client latency p50 ms": Math.round(percentile(r.flood, 50)),
      "other client latency p99 ms": Math.round(percentile(r.flood, 99)),
      "other client latency max ms": Math.round(Math.max(...r.flood)),
    };
  },
};
