/**
 * The bench's publisher (a child process): one MQTT.js connection publishing to the run's topics,
 * round-robin, at a target rate. Every few milliseconds a tick publishes the batch the elapsed time
 * allows; the payload carries the send time (epoch ms, sub-ms), as a plain number or as
 * `{"value": t, "ts": <ms>}`. It reports what it actually sent, which may be below the target.
 *
 * Modes: `mqttjs` calls client.publish() per message; `raw` keeps the MQTT.js connection but writes
 * each tick's PUBLISH packets, encoded here, in one socket write: a cheaper publisher leaves more of
 * a shared core to the parts under test.
 */
import { performance } from "node:perf_hooks";
import mqtt, { type MqttClient } from "mqtt";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { benchLayout, childArgs, childMain, epochMs, loadMeter, type Msg, send } from "./common.js";

const args = childArgs();
const url = args.url!;
const qos = Number(args.qos ?? 0) as 0 | 1;
const payloadShape = args.payload === "json" ? "json" : "plain";
const mode = args.mode === "raw" && qos === 0 ? "raw" : "mqttjs";
const topics = benchLayout(loadCatalog(), Number(args.topics)).topics;
const topicFrames = topics.map((t) => {
  const b = Buffer.from(t, "utf8");
  const f = Buffer.allocUnsafe(2 + b.length);
  f.writeUInt16BE(b.length, 0);
  b.copy(f, 2);
  return f;
});

const TICK_MS = 4;
const SAMPLE_MS = 200;
/** Missed time is made up at most this far: a stalled publisher is reported, not turned into a burst. */
const MAX_DEBT_S = 0.1;
/** QoS 0 has no flow control: hold back while the socket has this much unsent. */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;
const MAX_QOS1_IN_FLIGHT = 10_000;

let client: MqttClient;
let next = 0;
let total = 0;
let inFlight = 0;
let heldBack = 0;
const meter = loadMeter();

function payloadOf(t: number): string {
  return payloadShape === "json" ? `{"value":${t},"ts":${Math.floor(t)}}` : String(t);
}

function publishBatch(n: number): number {
  const stream = client.stream as unknown as { writableLength: number; write(b: Buffer): boolean };
  if (stream.writableLength > MAX_UNSENT_BYTES || inFlight > MAX_QOS1_IN_FLIGHT) {
    heldBack++;
    return 0;
  }
  if (mode === "raw") {
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const topic = topicFrames[next]!;
      next = (next + 1) % topicFrames.length;
      const payload = Buffer.from(payloadOf(epochMs()), "latin1");
      let remaining = topic.length + payload.length;
      const header = [0x30];
      do {
        let byte = remaining % 128;
        remaining = Math.floor(remaining / 128);
        if (remaining > 0) byte |= 0x80;
        header.push(byte);
      } while (remaining > 0);
      parts.push(Buffer.from(header), topic, payload);
    }
    stream.write(Buffer.concat(parts));
  } else {
    for (let i = 0; i < n; i++) {
      const topic = topics[next]!;
      next = (next + 1) % topics.length;
      if (qos === 1) {
        inFlight++;
        client.publish(topic, payloadOf(epochMs()), { qos: 1 }, () => inFlight--);
      } else client.publish(topic, payloadOf(epochMs()), { qos: 0 });
    }
  }
  total += n;
  return n;
}

/** Publishes at `rate` for `durationMs`; resolves with what was sent. */
function run(rate: number, durationMs: number): Promise<Msg> {
  return new Promise((resolve) => {
    const startT = epochMs();
    const start = performance.now();
    const startTotal = total;
    heldBack = 0;
    /** How far the schedule has been served (published, or skipped as time that cannot be made up). */
    let served = 0;
    const cap = Math.ceil(rate * MAX_DEBT_S);
    const tick = () => {
      const elapsed = performance.now() - start;
      const due = Math.floor((rate * Math.min(elapsed, durationMs)) / 1000);
      let owed = due - served;
      if (owed > cap) {
        served += owed - cap;
        owed = cap;
      }
      if (owed > 0) served += publishBatch(owed);
      if (elapsed >= durationMs) {
        const endT = epochMs();
        const actual = total - startTotal;
        resolve({
          type: "done",
          sent: actual,
          startT,
          endT,
          achievedRate: actual / ((endT - startT) / 1000),
          heldBackTicks: heldBack,
        });
        return;
      }
      setTimeout(tick, TICK_MS);
    };
    tick();
  });
}

const sampler = setInterval(
  () => send({ type: "sample", t: epochMs(), count: total, ...meter() }),
  SAMPLE_MS,
);
sampler.unref();

childMain("publisher", async (msg) => {
  switch (msg.type) {
    case "run":
      return run(Number(msg.rate), Number(msg.durationMs));
    case "stop":
      clearInterval(sampler);
      await client.endAsync();
      process.exit(0);
      return undefined;
    default:
      return undefined;
  }
});

client = await mqtt.connectAsync(url, {
  protocolVersion: 4,
  clientId: `bench-pub-${process.pid}`,
  reconnectPeriod: 0,
  keepalive: 60,
});
send({ type: "ready", mode, qos, payload: payloadShape, topics: topics.length });
