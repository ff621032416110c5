import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { AttributeIds, type DataValue, TimestampsToReturn } from "node-opcua";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startMosquitto } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGatewayProcess } from "../harness/cli.js";
import { nodeOf } from "../harness/opcua-client.js";
import { startRedundantClient } from "../harness/redundant-client.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

const URIS = ["urn:smartgear-test:failover-a", "urn:smartgear-test:failover-b"];
/** Voltage L1 (Double): the publisher's sequence number is the value, so every message is a change. */
const POINT = "11/5/3WA/Failover 01/ETU";
/** Messages a second, in ticks of 10 ms. */
const RATE = 300;

describe("reliability: failover of a redundant pair", needs("mosquitto"), () => {
  const { track, defer } = useCleanups();
  const dir = mkdtempSync(join(tmpdir(), "smartgear-failover-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A member as a user runs it (a child process a test can kill -9), on mosquitto through its own session. */
  const member = async (i: 0 | 1, brokerUrl: string) => {
    const name = i === 0 ? "a" : "b";
    const port = await freePort();
    const config = join(dir, `gateway-${name}.yaml`);
    writeFileSync(
      config,
      [
        `mqtt: { url: ${brokerUrl}, clientId: gw-failover-${name}-${process.pid}, reconnectPeriod: 200, storeFolder: ${JSON.stringify(join(dir, `store-${name}`))} }`,
        `opcua: { port: ${port}, pkiFolder: ${JSON.stringify(join(dir, `pki-${name}`))}, applicationUri: ${URIS[i]}, allowAnonymous: true, securityPolicies: [None], limits: { maxMonitoredItemQueueSize: 5000 } }`,
        `redundancy: { enabled: true, serverUris: ${JSON.stringify(URIS)}, preference: ${i === 0 ? 55 : 0}, warmUp: 1 }`,
        `history: { folder: ${JSON.stringify(join(dir, `history-${name}`))} }`,
        "http: { enabled: false }",
        "log: { format: json }",
        "",
      ].join("\n"),
    );
    const endpoint = `opc.tcp://127.0.0.1:${port}/UA/SmartGear`;
    // A first start makes the member's certificate: on a loaded machine that alone takes seconds.
    return { endpoint, ...(await startGatewayProcess(config, endpoint, defer, 120_000)) };
  };

  it("kill -9 of the primary under load: the client has values from the other member within 5 s, and that member had every one", async () => {
    const broker = track(await startMosquitto());
    const a = await member(0, broker.url);
    const b = await member(1, broker.url);

    const device = await mqtt.connectAsync(broker.url, {
      protocolVersion: 5,
      clientId: `failover-device-${process.pid}`,
    });
    defer(() => device.endAsync());
    let seq = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < RATE / 100; i++)
        void device.publish(POINT, JSON.stringify({ value: ++seq }), { qos: 1 });
    }, 10);
    defer(async () => clearInterval(timer));

    const client = await startRedundantClient([a.endpoint, b.endpoint], [nodeOf(POINT)]);
    defer(() => client.stop());
    await waitFor(
      "the client on the primary, both healthy",
      () =>
        client.current === a.endpoint &&
        client.levels()[a.endpoint] === 255 &&
        client.levels()[b.endpoint] === 200 &&
        client.received.length > 100,
      30_000,
    );
    expect(client.serverUris()[b.endpoint]).toEqual(URIS);
    // The other member's own record of the point, from before the switch: what it had during it
    // (monitored once the point exists: a monitored item of an unknown NodeId stays Bad). Every
    // value: queues beyond the default maxMonitoredItemQueueSize (10) are allowed above.
    const witness = new Set<number>();
    const sub = await b.client.session.createSubscription2({
      requestedPublishingInterval: 100,
      requestedMaxKeepAliveCount: 10,
      requestedLifetimeCount: 100,
      publishingEnabled: true,
    });
    const item = await sub.monitor(
      { nodeId: nodeOf(POINT), attributeId: AttributeIds.Value },
      { samplingInterval: 0, queueSize: 10_000, discardOldest: false },
      TimestampsToReturn.Both,
    );
    item.on("changed", (dv: DataValue) => {
      if (dv.statusCode.isGood()) witness.add(dv.value.value as number);
    });

    await waitFor("b's own record running", () => witness.size > RATE / 2, 30_000);

    const killedAt = Date.now();
    const lastBefore = seq;
    const exited = new Promise((r) => a.child.once("exit", r));
    a.child.kill("SIGKILL");
    await exited;
    const moved = await waitFor(
      "the client on b",
      () => client.switches.find((s) => s.to === b.endpoint && s.at >= killedAt),
      10_000,
    );
    const again = await waitFor(
      "values from b",
      () => client.received.find((r) => r.endpoint === b.endpoint && (r.value as number) > lastBefore),
      10_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    clearInterval(timer);
    const last = seq;
    await waitFor("b has the last value", () => witness.has(last), 30_000).catch(() => {
      console.log(`b: ${witness.size} values, up to ${Math.max(...witness)}; published ${last}`);
    });
    await sub.terminate();

    const seen = new Set(client.received.map((r) => r.value as number));
    const first = Math.min(...seen);
    const missedByClient = last - first + 1 - [...seen].filter((v) => v >= first && v <= last).length;
    // From the first value of b's record (before the kill) to the last published.
    const from = Math.min(...witness);
    expect(from).toBeLessThan(lastBefore);
    const missingOnB = [];
    for (let v = from; v <= last; v++) if (!witness.has(v)) missingOnB.push(v);
    const failoverMs = again.at - killedAt;
    console.log(
      `failover (kill -9 of the primary, ${RATE} msg/s): client moved after ${moved.at - killedAt} ms (${moved.reason}), values again after ${failoverMs} ms; ` +
        `the client missed ${missedByClient} of ${last - first + 1} values; b missed ${missingOnB.length} of ${last - from + 1} published from ${lastBefore - from} before the kill to the end`,
    );
    expect(moved.reason).toBe("unreachable");
    expect(failoverMs).toBeLessThan(5000);
    expect(missingOnB).toEqual([]);
  }, 400_000);
});
