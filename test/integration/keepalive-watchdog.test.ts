import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { KEEPALIVE_TIMEOUT } from "../../src/mqtt/broker-link.js";
import { KeepaliveWatchdog } from "../../src/mqtt/keepalive-watchdog.js";
import { publish, startAedes, startMosquitto } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { ingestClientOf } from "../harness/ingest-client.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { startTcpProxyThread } from "../harness/tcp-proxy-thread.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

/** mqtt.keepalive of these tests (s): short, so that a test waits a few seconds. */
const KEEPALIVE = 1;
const LINK_LOST = "no packet from the MQTT broker within its keep-alive: link taken for lost, reconnecting";
const PINGREQ = 0xc0;
const PINGRESP = 0xd0;
let clients = 0;
const clientId = (what: string) => `gw-ka-${what}-${process.pid}-${++clients}`;
const yaml = (url: string, id: string, keepalive = KEEPALIVE) =>
  `mqtt:\n  url: ${url}\n  clientId: ${id}\n  keepalive: ${keepalive}\n  reconnectPeriod: 200\n  reconnectPeriodMax: 400\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the MQTT keep-alive watchdog (issue 14)", () => {
  const { track, defer } = useCleanups();

  it("takes a stalled route for lost within one keep-alive, reconnects once, and the kept session delivers what the broker queued meanwhile", async () => {
    const broker = track(await startAedes());
    // In a thread of its own: on this event loop the route would stall whenever the loop does.
    const proxy = track(await startTcpProxyThread(broker.port));
    const c = track(await ingestClientOf(yaml(proxy.url(), clientId("stall"))));
    await waitFor("subscribed", () => c.subscriptions[0]);
    await publish(broker.url, [{ topic: "11/5/3WA/Pair 01/ETU", payload: "1" }]);
    await waitFor("the first message", () => c.received.length === 1);

    const stalledAt = Date.now();
    await proxy.stall();
    await waitFor("the link taken for lost", () => c.disconnects.length > 0, 5 * KEEPALIVE * 1000, 5);
    const lostMs = Date.now() - stalledAt;
    // MQTT.js alone: a PINGREQ after a keep-alive without a PINGRESP or an acknowledgement, then
    // half a keep-alive more ([MQTT-3.1.2-24] allows the broker 1.5): up to 1.5 keep-alives.
    expect(lostMs).toBeLessThan(KEEPALIVE * 1000 + 150);
    expect(c.disconnects).toEqual([KEEPALIVE_TIMEOUT]);
    const line = c.logs.find((l) => l.message === LINK_LOST);
    expect(line).toMatchObject({ level: "warn", keepalive: KEEPALIVE });
    expect(line?.silenceMs).toBeGreaterThanOrEqual(0.8 * KEEPALIVE * 1000 - 5);
    expect(line?.silenceMs).toBeLessThan(KEEPALIVE * 1000 + 150);

    // The session (clean false) is the broker's: what it queued for the gateway arrives after.
    await publish(broker.url, [{ topic: "11/5/3WA/Pair 01/ETU", payload: "2", qos: 1 }]);
    await proxy.resume();
    await waitFor("the queued message", () => c.received.length === 2, 10_000);
    const reconnect = c.logs.filter((l) => l.message === "connected to MQTT broker")[1];
    expect(reconnect?.sessionPresent).toBe(true);
    // One reconnect, not one of MQTT.js's and one of ours fighting over the client id: it stays.
    await sleep(3 * KEEPALIVE * 1000);
    expect(c.connects()).toBe(2);
    expect(c.disconnects).toEqual([KEEPALIVE_TIMEOUT]);
    expect((await proxy.state()).links).toBe(1);
    expect(c.takeovers).toEqual([]);
    expect(c.logs.filter((l) => l.message === LINK_LOST)).toHaveLength(1);
  }, 60_000);

  /** Six keep-alives on an idle link through a proxy that counts the PINGREQs. */
  const idle = async (broker: { port: number }, what: string) => {
    const proxy = track(await startTcpProxy(broker.port));
    const pings: number[] = [];
    proxy.onUpstream((chunk) => {
      if (chunk[0] === PINGREQ) pings.push(Date.now());
      return chunk;
    });
    const c = track(await ingestClientOf(yaml(proxy.url(), clientId(what))));
    await waitFor("subscribed", () => c.subscriptions[0]);
    await sleep(6 * KEEPALIVE * 1000);
    expect(c.disconnects).toEqual([]);
    expect(c.connects()).toBe(1);
    expect(c.logs.filter((l) => l.message === LINK_LOST)).toEqual([]);
    // The watchdog's PINGREQ every half keep-alive of silence (MQTT.js's would come every one).
    expect(pings.length).toBeGreaterThanOrEqual(9);
  };

  it("never trips on an idle link whose broker answers its pings (aedes, MQTT 3.1.1)", async () => {
    await idle(track(await startAedes()), "idle-aedes");
  }, 30_000);

  it("never trips on an idle link whose broker answers its pings (mosquitto, MQTT 5)", {
    ...needs("mosquitto"),
    timeout: 30_000,
  }, async () => {
    await idle(track(await startMosquitto()), "idle-mosquitto");
  });

  it("does not take its own event loop's standstill for the broker's silence", async () => {
    const broker = track(await startAedes());
    const proxy = track(await startTcpProxy(broker.port));
    let pingresps = 0;
    proxy.onDownstream((chunk) => {
      if (chunk[0] === PINGRESP) pingresps++;
      return true;
    });
    const c = track(await ingestClientOf(yaml(proxy.url(), clientId("busy"))));
    await waitFor("subscribed", () => c.subscriptions[0]);
    // Just after a PINGRESP: the broker heard from the client last now, and the watchdog too (it
    // counts packets at its next tick, every 0.05 keep-alive: two ticks later it has).
    await waitFor("the watchdog's first PINGRESP", () => pingresps > 0, 5000, 1);
    await sleep(0.1 * KEEPALIVE * 1000);
    // A long synchronous task (an address space being built, on the main thread with
    // mqtt.ingestThread false): longer than the watchdog allows the broker, shorter than the
    // broker's 1.5 keep-alives allow the client ([MQTT-3.1.2-24]; aedes is in this process too).
    const until = Date.now() + 0.95 * KEEPALIVE * 1000;
    while (Date.now() < until);
    await sleep(2 * KEEPALIVE * 1000);
    expect(c.disconnects).toEqual([]);
    expect(c.logs.filter((l) => l.message === LINK_LOST)).toEqual([]);
  }, 30_000);

  it("does not count a silence while the ingest thread holds MQTT.js back (the main thread behind)", async () => {
    const broker = track(await startAedes());
    const proxy = track(await startTcpProxyThread(broker.port));
    // keepalive 60: MQTT.js's own timer stays out of the way; the watchdog is given 1 s.
    const client = await mqtt.connectAsync(proxy.url(), {
      protocolVersion: 4,
      keepalive: 60,
      reconnectPeriod: 0,
    });
    defer(() => client.endAsync(true));
    let holding = false;
    const lost: number[] = [];
    const watchdog = new KeepaliveWatchdog(
      client,
      () => holding,
      () => lost.push(Date.now()),
    );
    defer(async () => watchdog.stop());
    watchdog.start(KEEPALIVE);
    holding = true;
    await proxy.stall();
    await sleep(1.5 * KEEPALIVE * 1000);
    expect(lost).toEqual([]);
    // Reading again, the gateway finds the route dead: 0.8–0.85 keep-alive later, as ever.
    const releasedAt = Date.now();
    holding = false;
    await waitFor("the link taken for lost", () => lost.length > 0, 5 * KEEPALIVE * 1000, 5);
    expect(lost[0]! - releasedAt).toBeGreaterThanOrEqual(0.8 * KEEPALIVE * 1000 - 60);
    expect(lost[0]! - releasedAt).toBeLessThan(KEEPALIVE * 1000 + 150);
  }, 30_000);

  it("is off with mqtt.keepalive 0, as MQTT.js's keep-alive is", async () => {
    const broker = track(await startAedes());
    const proxy = track(await startTcpProxyThread(broker.port));
    const c = track(await ingestClientOf(yaml(proxy.url(), clientId("off"), 0)));
    await waitFor("subscribed", () => c.subscriptions[0]);
    await proxy.stall();
    await sleep(2000);
    expect(c.disconnects).toEqual([]);
    expect(c.connected()).toBe(true);
  }, 30_000);
});
