/**
 * What one monitored item and one value queued for a client cost in the gateway's heap, with a real
 * node-opcua server (the gateway) and client: the figures behind the default
 * opcua.limits.maxMonitoredItems and maxMonitoredItemQueueSize (README, Reliability). The client
 * creates its items with raw CreateMonitoredItems calls (no client-side object per item in this
 * heap) and sends no Publish request, so every change stays queued on the server.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  AttributeIds,
  type CreateMonitoredItemsRequestOptions,
  type CreateMonitoredItemsResponse,
  MonitoringMode,
  TimestampsToReturn,
} from "node-opcua";
import { startGateway } from "../../test/harness/gateway.js";
import { connectClient, nodeOf } from "../../test/harness/opcua-client.js";
import type { SoakFigures, SoakScenario } from "./main.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const heapAfterGc = async () => {
  await sleep(200);
  gc();
  return process.memoryUsage().heapUsed;
};

export interface MonitoredItemCost {
  items: number;
  revisedQueueSize: number;
  bytesPerItem: number;
  bytesPerQueuedValue: number;
  /** Heap after GC and RSS with every queue full, MB. */
  heapMB: number;
  rssMB: number;
}

export async function measureMonitoredItemCost(
  devices: number,
  queueSize: number,
): Promise<MonitoredItemCost> {
  const names = Array.from({ length: devices }, (_, i) => `Feeder ${String(i + 1).padStart(2, "0")}`);
  const gw = await startGateway(
    `devices:\n${names.map((n) => `  - { type: 3WA, name: ${n}, source: ETU }\n`).join("")}history: { enabled: false }\n`,
  );
  const client = await connectClient(gw.endpointUrl);
  try {
    const points = gw.gateway.catalog.points.filter((p) => p.family === "11" && p.dataType === "Double");
    const topics = names.flatMap((n) => points.map((p) => `${p.topicId}/3WA/${n}/ETU`));
    const sub = await client.session.createSubscription2({
      requestedPublishingInterval: 1000,
      requestedMaxKeepAliveCount: 10,
      requestedLifetimeCount: 6000,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
    });
    (client.session as unknown as { getPublishEngine(): { suspend(s: boolean): void } })
      .getPublishEngine()
      .suspend(true);
    const before = await heapAfterGc();
    // The raw service (ClientSessionImpl): no ClientMonitoredItem per item in this heap.
    const session = client.session as unknown as {
      createMonitoredItems(r: CreateMonitoredItemsRequestOptions): Promise<CreateMonitoredItemsResponse>;
    };
    let revisedQueueSize = 0;
    for (let i = 0; i < topics.length; i += 1000) {
      const response = await session.createMonitoredItems({
        subscriptionId: sub.subscriptionId,
        timestampsToReturn: TimestampsToReturn.Both,
        itemsToCreate: topics.slice(i, i + 1000).map((topic, j) => ({
          itemToMonitor: { nodeId: nodeOf(topic), attributeId: AttributeIds.Value },
          monitoringMode: MonitoringMode.Reporting,
          requestedParameters: {
            clientHandle: i + j + 1,
            samplingInterval: 0,
            queueSize,
            discardOldest: true,
          },
        })),
      });
      for (const r of response.results ?? []) {
        if (!r.statusCode.isGood()) throw new Error(`CreateMonitoredItems: ${r.statusCode.toString()}`);
        revisedQueueSize = Math.max(revisedQueueSize, r.revisedQueueSize);
      }
    }
    // Each item holds its initial value (BadWaitingForInitialData) in its queue.
    const withItems = await heapAfterGc();
    const ingest = gw.gateway.ingest!;
    for (let round = 1; round < revisedQueueSize; round++) {
      for (let i = 0; i < topics.length; i++)
        ingest.handle(topics[i]!, Buffer.from(String(100 + round + i / 1e6)));
      await sleep(5);
    }
    const full = await heapAfterGc();
    return {
      heapMB: Math.round(full / 1e6),
      rssMB: Math.round(process.memoryUsage().rss / 1e6),
      items: topics.length,
      revisedQueueSize,
      bytesPerItem: Math.round((withItems - before) / topics.length),
      bytesPerQueuedValue: Math.round((full - withItems) / (topics.length * (revisedQueueSize - 1))),
    };
  } finally {
    await client.stop().catch(() => {});
    await gw.stop();
  }
}

export const scenario: SoakScenario = {
  name: "monitored-items",
  describe: "heap per monitored item and per value queued for a client that sends no Publish request",
  async run({ quick, log }): Promise<SoakFigures> {
    // At the default limits: 68 devices × 365 points = 24,820 items (opcua.limits.maxMonitoredItems
    // 25,000), each asking for 1,000 values, revised to maxMonitoredItemQueueSize.
    const devices = quick ? 2 : 68;
    log(`${devices} devices × 365 Double points, queueSize 1000 asked`);
    const r = await measureMonitoredItemCost(devices, 1000);
    return {
      "monitored items": r.items,
      "revised queueSize": r.revisedQueueSize,
      "heap per monitored item (B)": r.bytesPerItem,
      "heap per queued value (B)": r.bytesPerQueuedValue,
      "heap after GC, queues full (MB)": r.heapMB,
      "RSS, queues full (MB)": r.rssMB,
    };
  },
};
