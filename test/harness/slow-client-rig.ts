import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { AttributeIds, type ClientSubscription, type DataValue, TimestampsToReturn } from "node-opcua";
import { anonymousOpcua, startGateway } from "./gateway.js";
import { connectClient, nodeOf, type TestClient } from "./opcua-client.js";

/**
 * Issue 7, item 7a, shared by test/reliability/hostile-clients.test.ts and `npm run soak`: a client
 * that stops sending Publish requests while its monitored items change fast, and another client
 * whose notification latency is measured meanwhile. Values go in through PointMirror.handle, in
 * process; the heap is measured after a forced GC once a second.
 */

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** A subscription (publishing interval 100 ms, lifetime 10 min) monitoring `nodeIds`. */
export async function subscribe(client: TestClient, nodeIds: string[], queueSize: number) {
  const sub: ClientSubscription = await client.session.createSubscription2({
    requestedPublishingInterval: 100,
    requestedMaxKeepAliveCount: 10,
    // Long enough to outlive the run: the bound must come from the queues, not from expiry.
    requestedLifetimeCount: 6000,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
  });
  const items = await Promise.all(
    nodeIds.map((nodeId) =>
      sub.monitor(
        { nodeId, attributeId: AttributeIds.Value },
        { samplingInterval: 0, queueSize, discardOldest: true },
        TimestampsToReturn.Both,
      ),
    ),
  );
  return { sub, items };
}

export interface SlowClientOptions {
  /** Devices (3WA) whose family-11 Double points the hostile client monitors (365 per device). */
  devices: number;
  queueSize: number;
  /** Changes go on at least this long, and longer (up to maxSeconds) until the heap is flat. */
  minSeconds: number;
  maxSeconds: number;
}

export interface SlowClientResult {
  items: number;
  itemsGood: number;
  revisedQueue: number;
  messagesPerSecond: number;
  seconds: number;
  /** Heap growth after GC over the start, MiB, one sample a second. */
  heap: number[];
  /** Index of the first sample from which the heap stays within 3 MiB; -1: never flat. */
  flatFrom: number;
  /** The other client's latency, ms, before and during the changes. */
  quiet: number[];
  flood: number[];
  floodSent: number;
}

export async function runSlowClient(o: SlowClientOptions): Promise<SlowClientResult> {
  const devices = Array.from({ length: o.devices }, (_, i) => `Feeder ${String(i + 1).padStart(2, "0")}`);
  // The queueSize asked for is granted (the default maxMonitoredItemQueueSize is smaller): the
  // rig measures what a full queue of that size costs.
  const gw = await startGateway(
    `devices:\n${devices.map((d) => `  - { type: 3WA, name: ${d}, source: ETU }\n`).join("")}` +
      "  - { type: 3WA, name: Victim, source: ETU }\n" +
      anonymousOpcua(`limits: { maxMonitoredItemQueueSize: ${o.queueSize} }`),
  );
  const clients: TestClient[] = [];
  const gcWindows: [number, number][] = [];
  /** A forced collection stalls everything in the process: latencies spanning one are left out. */
  const heapMiB = () => {
    const t = performance.now();
    gc();
    gcWindows.push([t, performance.now()]);
    return process.memoryUsage().heapUsed / 2 ** 20;
  };
  let victimTimer: NodeJS.Timeout | undefined;
  try {
    const ingest = gw.gateway.ingest!;
    // Every Double point of family 11: values that change on every message.
    const points = gw.gateway.catalog.points.filter((p) => p.family === "11" && p.dataType === "Double");
    const topics = devices.flatMap((d) => points.map((p) => `${p.topicId}/3WA/${d}/ETU`));
    const valueAt = (i: number, round: number) => {
      const r = points[i % points.length]!.range;
      return r ? r.low + ((round % 10) / 10) * (r.high - r.low) : round;
    };

    const hostile = await connectClient(gw.endpointUrl);
    clients.push(hostile);
    const { items } = await subscribe(hostile, topics.map(nodeOf), o.queueSize);
    const itemsGood = items.filter((m) => m.statusCode.isGood()).length;
    const revisedQueue = Math.max(...items.map((m) => m.monitoringParameters.queueSize));
    // From here on the hostile client sends no Publish request: its session and subscription stay.
    (hostile.session as unknown as { getPublishEngine(): { suspend(s: boolean): void } })
      .getPublishEngine()
      .suspend(true);

    // The other client: one point, updated every 50 ms with a sequence number as its value.
    const victimTopic = "11/5/3WA/Victim/ETU";
    const victim = await connectClient(gw.endpointUrl);
    clients.push(victim);
    const { items: victimItems } = await subscribe(victim, [nodeOf(victimTopic)], 10);
    const sentAt = new Map<number, number>();
    const latencies: { phase: string; ms: number }[] = [];
    let phase = "quiet";
    const sent: Record<string, number> = {};
    victimItems[0]!.on("changed", (dv: DataValue) => {
      const at = sentAt.get(Math.round(dv.value.value as number));
      const now = performance.now();
      if (at !== undefined && !gcWindows.some(([a, b]) => a < now && b > at))
        latencies.push({ phase, ms: now - at });
    });
    let seq = 200;
    victimTimer = setInterval(() => {
      seq++;
      sentAt.set(seq, performance.now());
      sent[phase] = (sent[phase] ?? 0) + 1;
      ingest.handle(victimTopic, Buffer.from(String(seq)));
    }, 50);
    await sleep(2000);

    const heapStart = heapMiB();
    phase = "flood";
    // Every hostile item changes once per round, rounds 20 ms apart.
    let round = 0;
    let messages = 0;
    const heap: number[] = [];
    const started = performance.now();
    let nextSample = started + 1000;
    const elapsed = () => performance.now() - started;
    const flatFrom = () =>
      heap.findIndex((_, i) => {
        const tail = heap.slice(i);
        return tail.length >= 3 && Math.max(...tail) - Math.min(...tail) < 3;
      });
    // The queues fill at the items' sampling pace, slower on a busy machine: go on until flat.
    while (elapsed() < o.minSeconds * 1000 || (flatFrom() < 0 && elapsed() < o.maxSeconds * 1000)) {
      round++;
      for (let i = 0; i < topics.length; i++)
        ingest.handle(topics[i]!, Buffer.from(String(valueAt(i, round))));
      messages += topics.length;
      await sleep(20);
      if (performance.now() >= nextSample) {
        heap.push(heapMiB() - heapStart);
        nextSample += 1000;
      }
    }
    const seconds = elapsed() / 1000;
    phase = "after";
    await sleep(500);
    return {
      items: topics.length,
      itemsGood,
      revisedQueue,
      messagesPerSecond: Math.round(messages / seconds),
      seconds,
      heap,
      flatFrom: flatFrom(),
      quiet: latencies.filter((l) => l.phase === "quiet").map((l) => l.ms),
      flood: latencies.filter((l) => l.phase === "flood").map((l) => l.ms),
      floodSent: sent.flood ?? 0,
    };
  } finally {
    clearInterval(victimTimer);
    for (const c of clients) await c.stop().catch(() => {});
    await gw.stop();
  }
}

/** One line of figures. */
export function describeSlowClient(r: SlowClientResult): string {
  const f = (xs: number[]) =>
    `${percentile(xs, 50).toFixed(0)}/${percentile(xs, 99).toFixed(0)}/${Math.max(...xs).toFixed(0)}`;
  return (
    `${r.items} items × queue ${r.revisedQueue}, ${r.messagesPerSecond} msg/s for ${r.seconds.toFixed(1)} s; ` +
    `heap growth per second (MiB): ${r.heap.map((h) => h.toFixed(1)).join(" ")} (flat from second ${r.flatFrom + 1}); ` +
    `other client's latency p50/p99/max ms: quiet ${f(r.quiet)}, flood ${f(r.flood)} ` +
    `(${r.flood.length} of ${r.floodSent} values, the rest spanned a forced GC)`
  );
}
