import net from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import { describe, expect, it } from "vitest";
import {
  checkMqttJsVersion,
  installedMqttJsVersion,
  MQTT_JS_KEEPALIVE_TIMEOUT,
  MQTT_JS_VERSION,
  sendPingreq,
} from "../../src/mqtt/mqtt-js-internals.js";
import { useCleanups } from "../harness/cleanups.js";
import { waitFor } from "../harness/wait.js";

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PINGREQ = Buffer.from([0xc0, 0x00]);

/**
 * A raw MQTT 3.1.1 peer on loopback: answers the CONNECT with a CONNACK (`connackAfterMs` later),
 * then only records the bytes, so that the test sees what MQTT.js put on the wire.
 */
async function rawBroker(connackAfterMs = 0) {
  let received = Buffer.alloc(0);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("data", (data) => {
      // The CONNECT is the first packet; a CONNACK answers it once.
      if (received.length === 0) setTimeout(() => socket.write(CONNACK), connackAfterMs);
      received = Buffer.concat([received, data]);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    received: () => received,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("MQTT.js internals the gateway reaches (src/mqtt/mqtt-js-internals.ts)", () => {
  const { track, defer } = useCleanups();
  /** keepalive 60: MQTT.js sends no PINGREQ of its own within the test. */
  const client = (url: string): MqttClient => {
    const c = mqtt.connect(url, { protocolVersion: 4, keepalive: 60, reconnectPeriod: 0 });
    c.on("error", () => {});
    defer(() => c.endAsync(true));
    return c;
  };

  it("were written for the MQTT.js release that npm ci installs", () => {
    expect(installedMqttJsVersion()).toBe(MQTT_JS_VERSION);
    expect(() => checkMqttJsVersion()).not.toThrow();
  });

  it("refuse to start on another MQTT.js release, naming both and what to do", () => {
    expect(() => checkMqttJsVersion("5.17.0")).toThrow(
      /mqtt \(MQTT\.js\) 5\.17\.0 is installed.*src\/mqtt\/mqtt-js-internals\.ts.*written and tested for 5\.16\.0/,
    );
  });

  it("sendPingreq puts a PINGREQ on the wire at once ([MQTT-3.12.4-1]'s request, 0xC0 0x00)", async () => {
    const broker = track(await rawBroker());
    const c = client(broker.url);
    await waitFor("the CONNACK", () => c.connected);
    const before = broker.received().length;
    sendPingreq(c);
    await waitFor("a PINGREQ", () => broker.received().length >= before + 2, 2000, 5);
    expect(broker.received().subarray(before)).toEqual(PINGREQ);
  });

  it("sendPingreq before the CONNACK sends nothing, now or after (MQTT.js would queue it)", async () => {
    const broker = track(await rawBroker(300));
    const c = client(broker.url);
    await waitFor("the CONNECT", () => broker.received().length > 0, 5000, 1);
    expect(c.connected).toBe(false);
    const connect = broker.received().length;
    sendPingreq(c);
    await waitFor("the CONNACK", () => c.connected);
    await new Promise((r) => setTimeout(r, 200));
    expect(broker.received().length).toBe(connect);
  });

  it(`MQTT.js's own keep-alive timeout is the error "${MQTT_JS_KEEPALIVE_TIMEOUT}"`, async () => {
    const broker = track(await rawBroker());
    const c = client(broker.url);
    await waitFor("the CONNACK", () => c.connected);
    const errors: string[] = [];
    c.on("error", (err) => errors.push(err.message));
    c.onKeepaliveTimeout();
    expect(errors).toEqual([MQTT_JS_KEEPALIVE_TIMEOUT]);
  });
});
