/**
 * The ingest thread: runs the gateway's IngestClient (MQTT.js and its connection) off the main
 * thread and hands the main thread its messages in batches. Started by IngestThread.
 */
import { Writable } from "node:stream";
import { parentPort, workerData } from "node:worker_threads";
import winston from "winston";
import { IngestClient } from "./ingest-client.js";
import type {
  FromThread,
  IngestThreadData,
  ThreadError,
  ThreadState,
  ToThread,
} from "./ingest-thread-protocol.js";

const port = parentPort!;
const data = workerData as IngestThreadData;
const post = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/** Log lines go to the main thread's logger, which holds the levels, the format and SIGHUP. */
const toMainThread = new Writable({
  objectMode: true,
  write(info: Record<string, unknown>, _encoding, done) {
    const { level, message, ...meta } = info;
    post({ t: "log", level: String(level), message: String(message), meta });
    done();
  },
});
const logger = winston.createLogger({
  level: "debug",
  transports: [new winston.transports.Stream({ stream: toMainThread })],
});

// Messages in the batch being filled.
let topics: string[] = [];
let payloads: Uint8Array[] = [];
let bytes = 0;
let flushScheduled = false;
/** Batches the main thread has not acknowledged, and the MQTT.js continuations held meanwhile. */
let inFlight = 0;
let maxSeen = 0;
let timesHeld = 0;
const held: (() => void)[] = [];
/**
 * Set by "stop": what MQTT.js reads after it is neither handed over nor acknowledged (the broker
 * sends it again to the next run), so that nothing acknowledged is left in the thread when it ends.
 */
let stopping = false;

/**
 * Hands the batch over if fewer than `below` batches are in flight; else an ack does it later. After
 * a read (`below` 1) only to an idle main thread: a busy one gets bigger batches, fewer of them.
 * Infinity for an event, which must not overtake the messages before it.
 */
function flush(below: number): void {
  if (topics.length === 0 || inFlight >= below) return;
  const buffer = new ArrayBuffer(bytes);
  const all = new Uint8Array(buffer);
  const lengths = new Uint32Array(topics.length);
  let offset = 0;
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i]!;
    all.set(p, offset);
    lengths[i] = p.length;
    offset += p.length;
  }
  post({ t: "batch", topics, lengths, payloads: buffer }, [buffer, lengths.buffer as ArrayBuffer]);
  inFlight++;
  maxSeen = Math.max(maxSeen, inFlight);
  topics = [];
  payloads = [];
  bytes = 0;
}

function afterRead(): void {
  flushScheduled = false;
  flush(1);
}

/** Every event after the messages that came before it. */
function event(m: FromThread): void {
  flush(Number.POSITIVE_INFINITY);
  post(m);
}

const client = new IngestClient(data.config, logger, {
  pass(next) {
    // Never called: MQTT.js reads no further packet, and this one goes unacknowledged.
    if (stopping) return;
    if (topics.length >= data.maxBatch) flush(data.maxBatchesInFlight);
    // The main thread is behind: MQTT.js waits, and the broker with it, instead of a queue growing here.
    if (topics.length >= data.maxBatch) {
      held.push(next);
      timesHeld++;
    } else next();
  },
  holding: () => held.length > 0,
});

const state = (): ThreadState => ({
  connected: client.connected,
  protocol: client.protocol,
  responseTopicSupported: client.responseTopicSupported,
});

const asThreadError = (err: unknown): ThreadError => {
  const e = err as Error & { code?: unknown };
  return { name: e.name, message: e.message, ...(typeof e.code === "string" ? { code: e.code } : {}) };
};

port.on("message", (m: ToThread) => {
  switch (m.t) {
    case "ack":
      inFlight--;
      flush(data.maxBatchesInFlight);
      while (topics.length < data.maxBatch && held.length > 0) held.shift()!();
      break;
    case "publish":
      // A Buffer crosses threads as a Uint8Array; MQTT.js writes binary properties from Buffers.
      client
        .publish(m.topic, m.payload, {
          ...m.options,
          ...(m.options.correlationData ? { correlationData: Buffer.from(m.options.correlationData) } : {}),
        })
        .then(
          () => post({ t: "published", id: m.id }),
          (err: unknown) => post({ t: "published", id: m.id, error: asThreadError(err) }),
        );
      break;
    case "query":
      post({
        t: "answer",
        id: m.id,
        value: {
          batchesInFlight: inFlight,
          maxBatchesInFlight: data.maxBatchesInFlight,
          held: held.length,
          maxSeen,
          timesHeld,
        },
      });
      break;
    case "stop":
      stopping = true;
      // What was acknowledged goes to the main thread first; the held messages are in this batch,
      // so they may be acknowledged now.
      flush(Number.POSITIVE_INFINITY);
      for (const next of held.splice(0)) next();
      void client.stop().then(() => event({ t: "stopped" }));
      break;
  }
});

// In a then: a synchronous throw (an unreadable certificate) must also come back as startFailed.
Promise.resolve()
  .then(() =>
    client.start({
      message: (topic, payload) => {
        if (stopping) return;
        topics.push(topic);
        payloads.push(payload);
        bytes += payload.length;
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(afterRead);
        }
      },
      reply: (topic, payload, correlationData) => {
        if (!stopping) event({ t: "reply", topic, payload, ...(correlationData ? { correlationData } : {}) });
      },
      connected: (sessionLost) => event({ t: "connected", state: state(), sessionLost }),
      // Told before the client marks itself down.
      disconnected: (reason) => event({ t: "disconnected", reason, state: { ...state(), connected: false } }),
      subscriptions: (subscriptions) => event({ t: "subscriptions", subscriptions }),
      sessionTakenOver: (takeover) => event({ t: "takeover", takeover }),
    }),
  )
  .then(
    () => event({ t: "started", state: state() }),
    (err: unknown) => event({ t: "startFailed", error: asThreadError(err) }),
  );
