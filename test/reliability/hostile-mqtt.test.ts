import { readFileSync } from "node:fs";
import net from "node:net";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/security/password-hash.js";
import { freePort } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { connectPacket, packet, remainingLength, str } from "../harness/mqtt-wire.js";
import { connectClient } from "../harness/opcua-client.js";
import { makeTestPki, type TestPki } from "../harness/pki.js";
import { waitFor } from "../harness/wait.js";

/**
 * Issue 15, items 2 and 4 (embedded broker): hostile MQTT clients on loopback, from raw sockets,
 * against the real gateway. A packet beyond broker.maxPacketSize closes its connection from its
 * fixed header; connections beyond their caps or without a CONNECT in time are closed while a
 * legitimate client still connects; retained messages beyond broker.retained are not kept; a
 * PUBLISH or will topic with U+0000 or ill-formed UTF-8 closes its connection and makes no device.
 */

/** A raw TCP connection to the embedded broker, with what it received and whether it closed. */
async function rawSocket(brokerUrl: string) {
  const { port } = new URL(brokerUrl);
  const socket = net.connect(Number(port), "127.0.0.1");
  const state = { received: Buffer.alloc(0), closed: false };
  socket.on("data", (d: Buffer) => {
    state.received = Buffer.concat([state.received, d]);
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    state.closed = true;
  });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return { socket, state };
}

const refusals = (gw: Awaited<ReturnType<typeof startGateway>>, reason: string) =>
  gw.gateway.counters.brokerRefusals.get(reason as never) ?? 0;

/**
 * An MQTT.js client publishes a point, then a PUBLISH of 2,000 bytes against broker.maxPacketSize
 * 1024: its connection closes, and only the first message's device is mirrored.
 */
async function publishBeyondLimit(
  gw: Awaited<ReturnType<typeof startGateway>>,
  url: string,
  options: mqtt.IClientOptions,
  defer: (undo: () => Promise<void>) => void,
) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, ...options });
  defer(() => client.endAsync(true));
  await client.publishAsync("11/5/3WA/Feeder 01/ETU", "230.1", { qos: 1 });
  const closed = new Promise<void>((resolve) => client.stream.once("close", () => resolve()));
  client.publish("11/5/3WA/Feeder 02/ETU", "1".repeat(2000), { qos: 0 });
  await closed;
  expect(refusals(gw, "packetTooLarge")).toBe(1);
  expect(gw.gateway.ingest?.deviceCount).toBe(1);
}

describe("a packet larger than broker.maxPacketSize", () => {
  const { track, defer } = useCleanups();

  // Issue 15: three unfinished CONNECTs held 600 MiB, with or without broker.users and an ACL.
  it.each([
    ["the default configuration", ""],
    [
      "broker.users and an ACL",
      `broker: { port: 0, users: [{ username: dev, passwordHash: "${hashPassword("secret")}" }], acl: { dev: { publish: ["11/#"] } } }\n`,
    ],
  ])(
    "closes three CONNECTs claiming 256 MiB after their fixed header, costing the gateway less than the limit (%s)",
    async (_, yaml) => {
      const gw = track(await startGateway(yaml));
      const limit = gw.config.broker.maxPacketSize;
      const sockets = await Promise.all([1, 2, 3].map(() => rawSocket(gw.brokerUrl)));
      for (const { socket } of sockets) defer(async () => void socket.destroy());
      globalThis.gc?.();
      const before = process.memoryUsage().arrayBuffers;
      let peak = 0;
      const sample = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
      }, 5);
      defer(async () => clearInterval(sample));
      const piece = Buffer.alloc(64 * 1024, 0x41);
      /** The fixed header claims 256 MiB − 1 (the most §2.2.3 can say); then up to 64 MiB of it. */
      const stream = async ({ socket, state }: Awaited<ReturnType<typeof rawSocket>>) => {
        socket.write(Buffer.concat([Buffer.from([0x10]), remainingLength(2 ** 28 - 1)]));
        let sent = 0;
        while (sent < 64 * 2 ** 20 && !state.closed && !socket.destroyed) {
          const drained = socket.write(piece);
          sent += piece.length;
          if (!drained)
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, 200);
              socket.once("drain", () => {
                clearTimeout(t);
                resolve();
              });
            });
        }
        await waitFor("the broker to close the connection", () => state.closed, 5000);
        return sent;
      };
      const sent = await Promise.all(sockets.map(stream));
      // What the broker may still have been parsing when the connections closed.
      await new Promise((r) => setTimeout(r, 200));
      clearInterval(sample);
      console.info(
        `[reliability] 3 × 256 MiB CONNECT: closed after ${sent.map((b) => (b / 2 ** 20).toFixed(1)).join(", ")} MiB written (socket buffers included); Buffers grew at most ${(peak / 2 ** 20).toFixed(1)} MiB`,
      );
      // Closed long before the 64 MiB were through: what the kernel's loopback buffers took is all
      // that was written.
      for (const b of sent) expect(b).toBeLessThan(16 * 2 ** 20);
      // The process's Buffers (aedes' parser held each whole packet in them) grew by no more than
      // the limit per connection plus the test's own writes in flight and slack.
      expect(peak).toBeLessThan(3 * limit + 16 * 2 ** 20);
      for (const { state } of sockets) expect(state.received.length).toBe(0);
      expect(refusals(gw, "packetTooLarge")).toBe(3);
      const metrics = await (await fetch(`${gw.httpUrl}/metrics`)).text();
      expect(metrics).toContain('smartgear_broker_refusals_total{reason="packetTooLarge"} 3');
    },
    60_000,
  );

  it("closes a connected client's PUBLISH beyond the limit, and takes the same client's PUBLISH within it", async () => {
    const gw = track(await startGateway("broker: { port: 0, maxPacketSize: 1024 }\n"));
    await publishBeyondLimit(gw, gw.brokerUrl, {}, defer);
  }, 30_000);
});

describe("connection caps and the connect timeout", () => {
  const { track, defer } = useCleanups();

  it("closes connections beyond broker.maxUnauthenticatedConnections and those without a CONNECT in time, then lets a client in", async () => {
    const gw = track(
      await startGateway(
        "broker: { port: 0, maxConnections: 4, maxUnauthenticatedConnections: 2, connectTimeout: 1000 }\n",
      ),
    );
    const raws: Awaited<ReturnType<typeof rawSocket>>[] = [];
    for (let i = 0; i < 5; i++) raws.push(await rawSocket(gw.brokerUrl));
    for (const r of raws) defer(async () => void r.socket.destroy());
    // The first two wait for their CONNECT; the others are closed at once.
    await waitFor("three connections refused", () => raws.slice(2).every((r) => r.state.closed), 5000);
    expect(raws.slice(0, 2).map((r) => r.state.closed)).toEqual([false, false]);
    expect(refusals(gw, "tooManyUnauthenticated")).toBe(3);
    const started = Date.now();
    await waitFor("the connect timeout", () => raws[0]!.state.closed && raws[1]!.state.closed, 10_000);
    // aedes' default was 30 s; broker.connectTimeout is 1 s here (generous bound: a loaded machine).
    expect(Date.now() - started).toBeLessThan(5000);
    expect(refusals(gw, "connectTimeout")).toBe(2);
    const client = await mqtt.connectAsync(gw.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
    defer(() => client.endAsync(true));
    expect(client.connected).toBe(true);
  }, 30_000);

  it("closes connections beyond broker.maxConnections while the connected clients go on publishing", async () => {
    const gw = track(await startGateway("broker: { port: 0, maxConnections: 3 }\n"));
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await mqtt.connectAsync(gw.brokerUrl, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        clientId: `dev-${i}`,
      });
      defer(() => c.endAsync(true));
      clients.push(c);
    }
    const extra = await rawSocket(gw.brokerUrl);
    defer(async () => void extra.socket.destroy());
    extra.socket.write(connectPacket("dev-extra"));
    await waitFor("the fourth connection closed", () => extra.state.closed, 5000);
    // No CONNACK: the connection is closed before aedes sees it.
    expect(extra.state.received.length).toBe(0);
    expect(refusals(gw, "tooManyConnections")).toBe(1);
    await clients[2]!.publishAsync("11/5/3WA/Feeder 01/ETU", "230.1", { qos: 1 });
    await waitFor("the device mirrored", () => gw.gateway.ingest?.deviceCount === 1);
    // A closed connection frees its place.
    await clients.pop()!.endAsync();
    await waitFor("a place again", async () => {
      const c = await mqtt
        .connectAsync(gw.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 1000 })
        .catch(() => null);
      if (c) defer(() => c.endAsync(true));
      return c?.connected;
    });
  }, 30_000);
});

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterAll(() => pki.stop());

describe("the TLS listener", () => {
  const { track, defer } = useCleanups();

  it("counts connections from their TCP connect, bounds the handshake by broker.connectTimeout and guards packets inside TLS", async () => {
    const tlsPort = await freePort();
    const gw = track(
      await startGateway(
        `broker: { port: 0, plainListener: false, maxUnauthenticatedConnections: 2, connectTimeout: 1000, maxPacketSize: 1024, tls: { enabled: true, port: ${tlsPort}, minVersion: TLSv1.2, certFile: ${pki.serverCert}, keyFile: ${pki.serverKey} } }\n`,
      ),
    );
    // Three TCP connections that never send a ClientHello: the third is closed at once.
    const raws: Awaited<ReturnType<typeof rawSocket>>[] = [];
    for (let i = 0; i < 3; i++) raws.push(await rawSocket(`mqtts://127.0.0.1:${tlsPort}`));
    for (const r of raws) defer(async () => void r.socket.destroy());
    await waitFor("the third connection refused", () => raws[2]!.state.closed, 5000);
    expect(refusals(gw, "tooManyUnauthenticated")).toBe(1);
    const started = Date.now();
    // Node's own handshake timeout was 120 s.
    await waitFor("the handshake timeout", () => raws[0]!.state.closed && raws[1]!.state.closed, 10_000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(refusals(gw, "connectTimeout")).toBe(2);

    await publishBeyondLimit(gw, `mqtts://127.0.0.1:${tlsPort}`, { ca: readFileSync(pki.caCert) }, defer);
  }, 60_000);
});

describe("retained messages beyond broker.retained", () => {
  const { track, defer } = useCleanups();

  it("are delivered to the subscribers of the moment but not retained", async () => {
    const gw = track(
      await startGateway(
        "broker: { port: 0, retained: { maxMessages: 8, maxBytes: 1048576, maxMessagesPerClient: 5, maxBytesPerClient: 1048576 } }\n",
      ),
    );
    const live = await mqtt.connectAsync(gw.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
    defer(() => live.endAsync(true));
    const seen: string[] = [];
    live.on("message", (topic) => seen.push(topic));
    await live.subscribeAsync("x/#", { qos: 1 });
    const publisher = await mqtt.connectAsync(gw.brokerUrl, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: "a",
    });
    defer(() => publisher.endAsync(true));
    for (let i = 0; i < 7; i++) await publisher.publishAsync(`x/a/${i}`, "v", { qos: 1, retain: true });
    const other = await mqtt.connectAsync(gw.brokerUrl, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: "b",
    });
    defer(() => other.endAsync(true));
    for (let i = 0; i < 5; i++) await other.publishAsync(`x/b/${i}`, "v", { qos: 1, retain: true });
    await waitFor("all twelve delivered", () => seen.length === 12);
    expect(publisher.connected && other.connected).toBe(true);

    const late = await mqtt.connectAsync(gw.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
    defer(() => late.endAsync(true));
    const retained: string[] = [];
    late.on("message", (topic, _p, p) => p.retain && retained.push(topic));
    await late.subscribeAsync("x/#", { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    // Client a: its first 5 (its own bound); client b: 3 more (8 in all).
    expect(retained.sort()).toEqual(
      ["x/a/0", "x/a/1", "x/a/2", "x/a/3", "x/a/4", "x/b/0", "x/b/1", "x/b/2"].sort(),
    );
    expect(refusals(gw, "retainedLimit")).toBe(4);
  }, 30_000);
});

describe("PUBLISH and will topics that are not well-formed UTF-8", () => {
  const { track, defer } = useCleanups();

  it("close the connection [MQTT-1.5.3-1] [MQTT-1.5.3-2] and make no device on the OPC UA side, nor does such a will topic", async () => {
    const gw = track(await startGateway());
    const topics = [
      Buffer.from("11/5/3WA/A\u0000B/ETU"),
      Buffer.from([...Buffer.from("11/5/3WA/A"), 0xff, ...Buffer.from("B/ETU")]),
    ];
    for (const topic of topics) {
      const { socket, state } = await rawSocket(gw.brokerUrl);
      defer(async () => void socket.destroy());
      socket.write(connectPacket("hostile"));
      await waitFor("CONNACK", () => state.received.length >= 4);
      expect([...state.received.subarray(0, 4)]).toEqual([0x20, 2, 0, 0]);
      // QoS 0 PUBLISH (§3.3): topic name, payload.
      socket.write(packet(0x30, str(topic), Buffer.from("230.1")));
      await waitFor("the connection closed", () => state.closed, 5000);
    }
    // A will whose topic holds U+0000, then the connection dropped: without the check, aedes
    // published the will when the connection ended.
    const will = await rawSocket(gw.brokerUrl);
    defer(async () => void will.socket.destroy());
    will.socket.write(
      packet(
        0x10,
        str("MQTT"),
        Buffer.from([4, 0x06, 0, 60]),
        str("hostile-will"),
        str(topics[0]!),
        str("1"),
      ),
    );
    await waitFor("the connection closed", () => will.state.closed, 5000);
    expect(will.state.received.length).toBe(0);
    expect(refusals(gw, "invalidUtf8")).toBe(3);
    // A well-formed topic from a device of the same type is mirrored: the type folder exists and
    // holds that device alone.
    const good = await mqtt.connectAsync(gw.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
    defer(() => good.endAsync(true));
    await good.publishAsync("11/5/3WA/Feeder 01/ETU", "230.1", { qos: 1 });
    await waitFor("the device mirrored", () => gw.gateway.ingest?.deviceCount === 1);
    const client = track(await connectClient(gw.endpointUrl));
    expect(await client.browseNames("ns=2;s=Devices/3WA")).toEqual(["Feeder 01"]);
    // The refusals are diagnostics an OPC UA client can read too (Gateway/BrokerRefusals/<reason>).
    const counted = await client.read("ns=2;s=Gateway/BrokerRefusals/InvalidUtf8");
    expect(counted.value.value[1]).toBe(3);
  }, 30_000);
});

describe("an embedded broker beyond loopback", () => {
  it("refuses to start without broker.users, naming broker.allowAnonymousOnNetwork", async () => {
    const err = await startGateway("broker: { port: 0, host: 0.0.0.0 }\n").then(
      async (gw) => {
        await gw.stop();
        return "";
      },
      (e: Error) => e.message,
    );
    expect(err).toMatch(/broker\.users is empty.*broker\.allowAnonymousOnNetwork: true/);
  });
});
