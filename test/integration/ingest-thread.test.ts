import { spawn } from "node:child_process";
import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { IngestThread } from "../../src/mqtt/ingest-thread.js";
import { startAedes, startMosquitto } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf, waitStatus } from "../harness/opcua-client.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

/**
 * mqtt.ingestThread (default true): MQTT.js runs in a worker thread and hands the main thread its
 * messages in batches. Messages keep their order, none is lost, and a main thread that falls behind
 * holds the broker rather than a queue between the threads.
 */

const DEVICE = "3WA/Feeder 01/ETU";
const TOPICS = ["11/5", "11/6", "11/7"].map((id) => `${id}/${DEVICE}`);

/** Publishes `count` messages per topic, values 1..count in order, from another process. */
function publishFromChild(url: string, topics: string[], count: number, qos: 0 | 1 = 1): Promise<void> {
  const script = `
    const mqtt = require("mqtt");
    const [url, topics, count, qos] = JSON.parse(process.argv[1]);
    const c = mqtt.connect(url, { protocolVersion: 4 });
    c.on("connect", async () => {
      for (let i = 1; i <= count; i++) for (const t of topics) c.publish(t, String(i), { qos });
      await new Promise((r) => c.end(false, {}, r));
      process.exit(0);
    });`;
  const child = spawn(process.execPath, ["-e", script, JSON.stringify([url, topics, count, qos])], {
    stdio: "inherit",
  });
  return new Promise((resolve, reject) =>
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited ${code}`)))),
  );
}

describe("the MQTT ingest thread", () => {
  const { track } = useCleanups();
  const gatewayOn = (url: string, extra = "") =>
    startGateway(
      `mqtt:\n  url: ${url}\n  clientId: gw-thread-${Math.random().toString(36).slice(2)}\n  reconnectPeriod: 200\n${extra}` +
        `devices:\n  - { type: 3WA, name: Feeder 01, source: ETU }\n`,
    );

  it("mirrors every message in order: the last value published is the one shown", async () => {
    const broker = track(await startAedes());
    const gw = track(await gatewayOn(broker.url));
    expect((gw.gateway as unknown as { source: unknown }).source).toBeInstanceOf(IngestThread);
    await waitFor("connected", () => gw.gateway.ingest!.isConnected);
    const received = gw.gateway.counters.received;
    await publishFromChild(broker.url, TOPICS, 2000);
    await waitFor("every message", () => gw.gateway.counters.received - received >= 6000, 20_000);
    expect(gw.gateway.counters.received - received).toBe(6000);
    const client = track(await connectClient(gw.endpointUrl));
    for (const t of TOPICS) {
      await waitStatus(client, t, StatusCodes.Good);
      expect((await client.read(nodeOf(t))).value.value).toBe(2000);
    }
  }, 40_000);

  it("holds MQTT.js while the main thread is behind: a bounded backlog, nothing lost", {
    ...needs("mosquitto"),
    timeout: 60_000,
  }, async () => {
    // A broker in a process of its own, queueing without limit for a client that does not keep up.
    const broker = track(await startMosquitto("max_queued_messages 1000000\n"));
    const gw = track(await gatewayOn(broker.url));
    await waitFor("connected", () => gw.gateway.ingest!.isConnected);
    const thread = (gw.gateway as unknown as { source: IngestThread }).source;
    const received = gw.gateway.counters.received;
    // QoS 0: the publisher is done in a fraction of a second (QoS 1 takes ~18 s for 30,000).
    const published = publishFromChild(broker.url, TOPICS, 10_000, 0);
    // The main thread stops for 5 s while 30,000 messages come (the thread reads on meanwhile).
    await new Promise((r) => setTimeout(r, 300));
    const until = performance.now() + 5000;
    while (performance.now() < until);
    await published;
    await waitFor("every message", () => gw.gateway.counters.received - received >= 30_000, 30_000);
    expect(gw.gateway.counters.received - received).toBe(30_000);
    const backlog = await thread.backlog();
    // The thread got ahead and was held at the bound, not beyond it.
    expect(backlog.timesHeld).toBeGreaterThan(0);
    expect(backlog.maxSeen).toBe(backlog.maxBatchesInFlight);
    expect(backlog.batchesInFlight).toBe(0);
  });

  it("turns the points uncertain when the thread dies, and mirrors again from a new one", async () => {
    const broker = track(await startAedes());
    const gw = track(await gatewayOn(broker.url));
    const client = track(await connectClient(gw.endpointUrl));
    await waitFor("connected", () => gw.gateway.ingest!.isConnected);
    await publishFromChild(broker.url, [TOPICS[0]!], 1);
    await waitStatus(client, TOPICS[0]!, StatusCodes.Good);

    const thread = (gw.gateway as unknown as { source: { worker: { terminate(): Promise<number> } } }).source;
    await thread.worker.terminate();
    await waitStatus(client, TOPICS[0]!, StatusCodes.UncertainNoCommunicationLastUsableValue);
    expect((await client.read("ns=2;s=Gateway/BrokerConnected")).value.value).toBe(false);

    await waitFor("a new thread connected", () => gw.gateway.ingest!.isConnected, 10_000);
    await publishFromChild(broker.url, [TOPICS[0]!], 2);
    await waitFor("the new value", async () => (await client.read(nodeOf(TOPICS[0]!))).value.value === 2);
    expect((await client.read(nodeOf(TOPICS[0]!))).statusCode).toEqual(StatusCodes.Good);
  }, 30_000);

  it("runs MQTT.js on the main thread with mqtt.ingestThread false", async () => {
    const broker = track(await startAedes());
    const gw = track(await gatewayOn(broker.url, "  ingestThread: false\n"));
    expect((gw.gateway as unknown as { source: unknown }).source).not.toBeInstanceOf(IngestThread);
    const received = gw.gateway.counters.received;
    await waitFor("connected", () => gw.gateway.ingest!.isConnected);
    await publishFromChild(broker.url, TOPICS, 100);
    await waitFor("every message", () => gw.gateway.counters.received - received >= 300);
  }, 30_000);
});
