import {
  AttributeIds,
  type ClientSubscription,
  DataChangeNotification,
  type NotificationMessage,
  TimestampsToReturn,
} from "node-opcua";
import { describe, expect, it } from "vitest";
import { useCleanups } from "../harness/cleanups.js";
import { anonymousOpcua, startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

/**
 * opcua.limits.maxNotificationsPerPublish: how many notifications one Publish response carries.
 * A client of many points that change together gets them in one response a publishing cycle,
 * not in 1,000-notification slices (node-opcua's own cap), each waiting for a Publish request.
 */

const DEVICES = ["P1", "P2", "P3", "P4"];

type Track = ReturnType<typeof useCleanups>["track"];

/** Every Double point of family 11 on four devices (1,460) changed at once, early in a cycle. */
async function changeAllOnce(track: Track, limits: string, requestedMax = 0) {
  const gw = track(
    await startGateway(
      anonymousOpcua(`limits: { ${limits} }`) +
        `devices:\n${DEVICES.map((d) => `  - { type: 3WA, name: ${d}, source: ETU }\n`).join("")}`,
    ),
  );
  const points = gw.gateway.catalog.points.filter((p) => p.family === "11" && p.dataType === "Double");
  const topics = DEVICES.flatMap((d) => points.map((p) => `${p.topicId}/3WA/${d}/ETU`));
  const client = track(await connectClient(gw.endpointUrl));
  const sub: ClientSubscription = await client.session.createSubscription2({
    requestedPublishingInterval: 1000,
    requestedMaxKeepAliveCount: 10,
    requestedLifetimeCount: 100,
    maxNotificationsPerPublish: requestedMax,
    publishingEnabled: true,
  });
  /** Notifications per data-change message, in arrival order. */
  const sizes: number[] = [];
  sub.on("raw_notification", (m: NotificationMessage) => {
    for (const d of m.notificationData ?? [])
      if (d instanceof DataChangeNotification) sizes.push(d.monitoredItems?.length ?? 0);
  });
  await sub.monitorItems(
    topics.map((t) => ({ nodeId: nodeOf(t), attributeId: AttributeIds.Value })),
    { samplingInterval: 0, queueSize: 1, discardOldest: true },
    TimestampsToReturn.Both,
  );
  const sum = () => sizes.reduce((a, b) => a + b, 0);
  // The initial values have just come in a message: the whole change falls within the next cycle.
  await waitFor("every initial value", () => sum() >= topics.length);
  sizes.length = 0;
  const ingest = gw.gateway.ingest!;
  for (const [i, t] of topics.entries()) ingest.handle(t, Buffer.from(String(100 + (i % 50))));
  await waitFor("every change", () => sum() >= topics.length);
  return { topics: topics.length, sizes: [...sizes] };
}

describe("notifications per Publish response", () => {
  const { track } = useCleanups();

  it("by default carries a cycle's 1,460 changes in one response, beyond node-opcua's 1,000", async () => {
    const r = await changeAllOnce(track, "");
    expect(r.topics).toBe(1460);
    expect(r.sizes).toEqual([1460]);
  }, 30_000);

  it("stops a response at opcua.limits.maxNotificationsPerPublish; the rest follow, none lost", async () => {
    const r = await changeAllOnce(track, "maxNotificationsPerPublish: 300");
    expect(Math.max(...r.sizes)).toBe(300);
    expect(r.sizes.reduce((a, b) => a + b, 0)).toBe(1460);
  }, 30_000);

  it("stops at what the client asks for when that is fewer", async () => {
    const r = await changeAllOnce(track, "", 200);
    expect(Math.max(...r.sizes)).toBe(200);
    expect(r.sizes.reduce((a, b) => a + b, 0)).toBe(1460);
  }, 30_000);
});
