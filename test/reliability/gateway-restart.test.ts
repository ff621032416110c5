import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { gatewayRestart } from "../../scripts/soak/gateway-restart.js";
import { freePort, publish, startMosquitto } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGatewayProcess } from "../harness/cli.js";
import { startGateway, TEST_PKI } from "../harness/gateway.js";
import { nodeOf } from "../harness/opcua-client.js";
import { finishRun, formatTally, SEQ_TOPICS, SeqPublisher, SeqReceiver } from "../harness/sequence.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

/** MQTT fixed header of a PUBREL: packet type 6, flags 0b0010. */
const PUBREL = 0x62;
const TOPIC = "11/5/3WA/Crash 01/ETU";

const numberOf = (v: unknown) => (Array.isArray(v) ? v[0] * 2 ** 32 + v[1] : Number(v));

describe("reliability: the gateway restarts", needs("mosquitto"), () => {
  const { track, defer } = useCleanups();

  it("stopped and started again under load: 0 lost at QoS 1 and 2, none duplicated at QoS 2", async () => {
    const r = await gatewayRestart({ cycles: 1, runMs: 1000, downMs: 1000, rate: 100 });
    console.log(`gateway restart: ${formatTally(r.tally)}; start ${r.startMs} ms`);
    expect(r.complete).toBe(true);
    expect(r.tally[1].sent).toBeGreaterThan(300);
    expect(r.tally[1].lost).toBe(0);
    expect(r.tally[2].lost).toBe(0);
    expect(r.tally[2].duplicated).toBe(0);
  });

  /**
   * The soak's losses (README Reliability): a gateway that stops while its ingest thread works
   * through the session's backlog. The thread acknowledges a message (PUBACK, PUBCOMP) once it is
   * in the batch for the main thread. It went on reading while its connection ended: what it read
   * then was mirrored but its acknowledgement could no longer be sent (duplicated at QoS 1 by the
   * next run), and its fsync per inbound QoS 2 message held its event loop for seconds, so that it
   * missed the 5 s it is given to stop and was terminated with acknowledged messages in its batch
   * (lost). Now both are in step: nothing mirrored unacknowledged, nothing acknowledged left behind.
   */
  it("stopped while it works through its session's backlog: nothing it acknowledged is lost, nothing it did not acknowledge is mirrored", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smartgear-backlog-stop-"));
    defer(async () => rmSync(dir, { recursive: true, force: true }));
    const broker = track(await startMosquitto("max_queued_messages 1000000\n"));
    const yaml =
      `mqtt:\n  url: ${broker.url}\n  clientId: gw-backlog-stop-${process.pid}\n  protocolVersion: 5\n` +
      `  reconnectPeriod: 100\n  storeFolder: ${JSON.stringify(join(dir, "store"))}\n` +
      "  subscriptions:\n    - { topic: 11/#, qos: 2 }\n";
    const receiver = new SeqReceiver();
    const untap = receiver.tapAll();
    defer(async () => untap());
    // The session and its subscription, then the gateway away while the backlog builds up.
    await (await startGateway(yaml)).stop();
    const topics = SEQ_TOPICS.filter((t) => t.qos > 0);
    const pub = track(await SeqPublisher.connect(broker.url, topics, `seq-backlog-stop-${process.pid}`));
    for (let i = 0; i < 2000; i++) pub.publishOnce();
    await waitFor("the backlog with the broker", () => pub.drained, 60_000);

    const busy = await startGateway(yaml);
    await waitFor("the backlog flowing", () => (receiver.seen.get(topics[0]!.topic)?.size ?? 0) > 0, 30_000);
    await busy.stop();
    const again = await startGateway(yaml);
    defer(() => again.stop());
    const { tally, complete } = await finishRun(pub, receiver, 60_000);
    console.log(`backlog across a stop: ${formatTally(tally)}`);
    expect(complete).toBe(true);
    expect(tally[1].lost).toBe(0);
    expect(tally[2].lost).toBe(0);
    expect(tally[1].duplicated).toBe(0);
    expect(tally[2].duplicated).toBe(0);
    // Three gateway starts and a backlog worked through at fsync pace: a minute and more when loaded.
  }, 240_000);

  /**
   * The window: the broker sent a QoS 2 PUBLISH, the gateway stored it and answered PUBREC, the
   * broker's PUBREL is held back by the proxy, and the gateway is killed. MQTT.js delivers a QoS 2
   * message at PUBREL; after the restart the broker repeats its PUBREL (the session is kept), and
   * only a store that outlived the process still has the message to deliver.
   */
  it.each([
    { store: true, expected: "processed once" },
    { store: false, expected: "lost (MQTT.js's in-memory store)" },
  ])(
    "an inbound QoS 2 message across kill -9 between PUBREC and PUBREL, store on disk $store: $expected",
    async ({ store }) => {
      const dir = mkdtempSync(join(tmpdir(), "smartgear-qos2-crash-"));
      defer(async () => rmSync(dir, { recursive: true, force: true }));
      const broker = track(await startMosquitto());
      const proxy = track(await startTcpProxy(broker.port));
      const opcuaPort = await freePort();
      const storeFolder = store ? join(dir, "store") : "";
      const clientId = `gw-qos2-crash-${process.pid}-${store}`;
      const config = join(dir, "gateway.yaml");
      writeFileSync(
        config,
        [
          `mqtt:\n  url: ${proxy.url()}\n  clientId: ${clientId}\n  protocolVersion: 5\n  reconnectPeriod: 100`,
          `  storeFolder: ${JSON.stringify(storeFolder)}\n  subscriptions:\n    - { topic: "11/#", qos: 2 }`,
          `opcua: { port: ${opcuaPort}, pkiFolder: ${JSON.stringify(TEST_PKI)}, allowAnonymous: true, securityPolicies: [None] }`,
          "http: { enabled: false }",
          `history: { folder: ${JSON.stringify(join(dir, "history"))} }`,
          "log: { format: json }",
          "",
        ].join("\n"),
      );
      const endpoint = `opc.tcp://127.0.0.1:${opcuaPort}/UA/SmartGear`;
      const start = async () => {
        const { child, client } = await startGatewayProcess(config, endpoint, defer);
        await waitFor(
          "connected to the broker",
          async () => (await client.read("ns=2;s=Gateway/BrokerConnected")).value.value === true,
          15_000,
        );
        return { child, client };
      };

      const first = await start();
      let held = 0;
      proxy.onDownstream((chunk) => {
        if (chunk[0] !== PUBREL) return true;
        held++;
        return false;
      });
      // The device's side completes with the broker (PUBCOMP): the message is the broker's to deliver.
      await publish(broker.url, [{ topic: TOPIC, payload: '{"value": 231.7}', qos: 2 }]);
      await waitFor("the broker's PUBREL (held back)", () => held > 0);
      if (store)
        expect(
          readdirSync(storeFolder, { recursive: true }).some((f) => /incoming.*\.json$/.test(String(f))),
        ).toBe(true);
      // Not delivered yet: MQTT.js waits for the PUBREL.
      expect((await first.client.read("ns=2;s=Gateway/MessagesReceived")).value.value).toEqual([0, 0]);
      const exited = new Promise((r) => first.child.once("exit", r));
      first.child.kill("SIGKILL");
      await exited;
      await first.client.stop().catch(() => {});
      proxy.onDownstream(null);

      const second = await start();
      const received = async () =>
        numberOf((await second.client.read("ns=2;s=Gateway/MessagesReceived")).value.value);
      if (store) {
        const dv = await waitFor("the message after the restart", async () => {
          const v = await second.client.read(nodeOf(TOPIC));
          return v.statusCode.equals(StatusCodes.Good) ? v : null;
        });
        expect(dv.value.value).toBe(231.7);
        // Exactly once: the PUBREL repeated after the restart delivered it, nothing delivers it again.
        await new Promise((r) => setTimeout(r, 500));
        expect(await received()).toBe(1);
        expect(
          existsSync(storeFolder)
            ? readdirSync(storeFolder, { recursive: true }).filter((f) => /incoming.*\.json$/.test(String(f)))
            : [],
        ).toEqual([]);
      } else {
        // The broker's repeated PUBREL finds nothing in a fresh in-memory store: MQTT.js answers PUBCOMP.
        await new Promise((r) => setTimeout(r, 1500));
        expect(await received()).toBe(0);
        expect((await second.client.read(nodeOf(TOPIC))).statusCode).toEqual(StatusCodes.BadNodeIdUnknown);
      }
    },
  );
});
