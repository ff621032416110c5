import { spawn } from "node:child_process";
import { Session } from "node:inspector/promises";
import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
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

/**
 * Ends the gateway's MQTT ingest thread as a crash would (`process.exit(1)` inside it), from
 * outside, through the inspector protocol's NodeWorker domain, as an attached debugger could: the
 * test needs no handle on the gateway's thread. Other threads of the process (the history store's,
 * the ESM loader's) are asked what they are first and left alone: the ingest thread is the one whose
 * workerData carries its batch bounds.
 */
async function crashIngestThreads(): Promise<number> {
  const session = new Session();
  session.connect();
  const workers: string[] = [];
  const answers = new Map<string, (isIngest: boolean) => void>();
  session.on("NodeWorker.attachedToWorker", (m) => {
    if (!m.params.workerInfo.url.startsWith("node:")) workers.push(m.params.sessionId);
  });
  session.on("NodeWorker.receivedMessageFromWorker", (m) => {
    const reply = JSON.parse(m.params.message) as { id?: number; result?: { result?: { value?: unknown } } };
    if (reply.id === 1) answers.get(m.params.sessionId)?.(reply.result?.result?.value === true);
  });
  const evaluate = (sessionId: string, id: number, expression: string) =>
    session.post("NodeWorker.sendMessageToWorker", {
      sessionId,
      message: JSON.stringify({
        id,
        method: "Runtime.evaluate",
        params: { expression, returnByValue: true },
      }),
    });
  try {
    // Existing workers are reported (attachedToWorker) before enable answers.
    await session.post("NodeWorker.enable", { waitForDebuggerOnStart: false });
    let crashed = 0;
    for (const sessionId of workers) {
      const isIngest = new Promise<boolean>((resolve) => answers.set(sessionId, resolve));
      await evaluate(
        sessionId,
        1,
        "process.getBuiltinModule('node:worker_threads').workerData?.maxBatchesInFlight !== undefined",
      );
      if (!(await isIngest)) continue;
      await evaluate(sessionId, 2, "process.exit(1)");
      crashed++;
    }
    return crashed;
  } finally {
    session.disconnect();
  }
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
    expect(gw.gateway.diagnostics().broker.link).toBe("thread");
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
    const backlog = (await gw.gateway.diagnostics().threadBacklog())!;
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

    expect(await crashIngestThreads()).toBe(1);
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
    expect(gw.gateway.diagnostics().broker.link).toBe("client");
    const received = gw.gateway.counters.received;
    await waitFor("connected", () => gw.gateway.ingest!.isConnected);
    await publishFromChild(broker.url, TOPICS, 100);
    await waitFor("every message", () => gw.gateway.counters.received - received >= 300);
  }, 30_000);
});
