/**
 * The OPC UA side of the bench, in a process of its own: a node-opcua client with one subscription
 * monitoring every mirrored point (samplingInterval 0; queueSize --queue-size, by default 1: the
 * newest value of each publishing interval; n: every change, up to n an interval). Each data change
 * carrying a bench timestamp (the publisher's send time, as the value) gives one latency sample:
 * arrival of the notification minus publish time, both read from this machine's clock.
 */
import { join } from "node:path";
import {
  ClientSubscription,
  DataChangeNotification,
  type NotificationMessage,
  OPCUACertificateManager,
  OPCUAClient,
  TimestampsToReturn,
} from "node-opcua";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { benchLayout, childArgs, childMain, epochMs, loadMeter, send } from "./common.js";

const SAMPLE_MS = 200;
const BATCH = 1000;
/** Latency samples kept per window; beyond, they are counted but not kept. */
const MAX_SAMPLES = 2_000_000;

const args = childArgs();
const publishingInterval = Number(args["publishing-interval"] ?? 100);
const queueSize = Number(args["queue-size"] ?? 1);
const nodeIds = benchLayout(loadCatalog(), Number(args.topics)).pointTopics.map((t) => `ns=2;s=${t}`);

const client = OPCUAClient.create({
  endpointMustExist: false,
  connectionStrategy: { maxRetry: 2, initialDelay: 100, maxDelay: 500 },
  clientCertificateManager: new OPCUACertificateManager({ rootFolder: join(args.pki!, "client") }),
  requestedSessionTimeout: 120_000,
});
await client.connect(args.endpoint!);
const session = await client.createSession();

let notifications = 0;
let publishResponses = 0;
let badValues = 0;
let recording = false;
let kept = 0;
let dropped = 0;
const samples = new Float64Array(MAX_SAMPLES);
const meter = loadMeter();

const subscribeStart = performance.now();
const subscription = ClientSubscription.create(session, {
  requestedPublishingInterval: publishingInterval,
  requestedLifetimeCount: 600,
  requestedMaxKeepAliveCount: 20,
  maxNotificationsPerPublish: 0,
  publishingEnabled: true,
  priority: 10,
});
await new Promise<void>((resolve, reject) => {
  subscription.once("started", () => resolve());
  subscription.once("internal_error", reject);
});
const revisedInterval = subscription.publishingInterval;

subscription.on("raw_notification", (message: NotificationMessage) => {
  const arrival = epochMs();
  publishResponses++;
  for (const data of message.notificationData ?? []) {
    if (!(data instanceof DataChangeNotification)) continue;
    for (const item of data.monitoredItems ?? []) {
      notifications++;
      const v = item.value.value?.value;
      if (typeof v !== "number" || v < 1e12) continue;
      if (!item.value.statusCode.isGood()) badValues++;
      if (!recording) continue;
      if (kept < MAX_SAMPLES) samples[kept++] = arrival - v;
      else dropped++;
    }
  }
});

let monitored = 0;
for (let i = 0; i < nodeIds.length; i += BATCH) {
  const items = nodeIds.slice(i, i + BATCH).map((nodeId) => ({ nodeId, attributeId: 13 }));
  await subscription.monitorItems(
    items,
    { samplingInterval: 0, queueSize, discardOldest: true },
    TimestampsToReturn.Neither,
  );
  monitored += items.length;
}
const subscribeMs = performance.now() - subscribeStart;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sampler = setInterval(
  () => send({ type: "sample", t: epochMs(), count: notifications, publishResponses, ...meter() }),
  SAMPLE_MS,
);
sampler.unref();

childMain("opcua client", async (msg) => {
  switch (msg.type) {
    case "latency-start":
      kept = 0;
      dropped = 0;
      recording = true;
      return { type: "ok" };
    case "latency-stop": {
      recording = false;
      const sorted = samples.slice(0, kept).sort();
      let sum = 0;
      for (const x of sorted) sum += x;
      return {
        type: "latency",
        count: kept + dropped,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        max: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
        min: sorted.length > 0 ? sorted[0] : Number.NaN,
        mean: kept > 0 ? sum / kept : Number.NaN,
      };
    }
    case "status":
      return { type: "status", notifications, publishResponses, badValues };
    case "stop":
      clearInterval(sampler);
      await subscription.terminate().catch(() => {});
      await session.close().catch(() => {});
      await client.disconnect();
      process.exit(0);
      return undefined;
    default:
      return undefined;
  }
});
send({ type: "ready", monitored, subscribeMs, publishingInterval: revisedInterval, queueSize });
