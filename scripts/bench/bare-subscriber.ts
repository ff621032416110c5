/**
 * The yardstick: a bare MQTT.js subscriber doing nothing but count, connected to the same broker
 * with the same protocol version (MQTT 5 to mosquitto, 3.1.1 to aedes, as the gateway ends up
 * speaking) and subscriptions as the gateway, so that the gateway's rate can
 * be read as a fraction of what MQTT.js alone takes from this broker on this machine.
 */
import mqtt from "mqtt";
import { childArgs, childMain, epochMs, loadMeter, send } from "./common.js";

const SAMPLE_MS = 200;
const args = childArgs();
let received = 0;
let bytes = 0;
const meter = loadMeter();

const client = await mqtt.connectAsync(args.url!, {
  protocolVersion: args.protocol === "4" ? 4 : 5,
  clientId: `bench-bare-${process.pid}`,
  clean: true,
  reconnectPeriod: 0,
  keepalive: 60,
});
client.on("message", (_topic, payload) => {
  received++;
  bytes += payload.length;
});
// The gateway's default subscriptions (QoS 1 asked; messages arrive at the publisher's QoS).
await client.subscribeAsync({ "11/#": { qos: 1 }, "21/#": { qos: 1 }, "48/#": { qos: 1 } });

const sampler = setInterval(
  () => send({ type: "sample", t: epochMs(), count: received, bytes, ...meter() }),
  SAMPLE_MS,
);
sampler.unref();

childMain("bare subscriber", async (msg) => {
  if (msg.type !== "stop") return undefined;
  clearInterval(sampler);
  await client.endAsync();
  process.exit(0);
});
send({ type: "ready" });
