import mqtt, { type MqttClient } from "mqtt";
import { PointMirror } from "../../src/bridge/point-mirror.js";
import { waitFor } from "./wait.js";

/** A topic the sequence publisher feeds, at one QoS. */
export interface SeqTopic {
  topic: string;
  qos: 0 | 1 | 2;
}

/** Topics per QoS on one device (Voltage L1–L-N average: Double, 0–600 V). */
export const SEQ_TOPICS: readonly SeqTopic[] = [
  { topic: "11/5/3WA/Seq 01/ETU", qos: 0 },
  { topic: "11/6/3WA/Seq 01/ETU", qos: 1 },
  { topic: "11/7/3WA/Seq 01/ETU", qos: 1 },
  { topic: "11/8/3WA/Seq 01/ETU", qos: 2 },
];

/**
 * A device publishing `{"value": 230.x, "seq": n}` on each topic, n = 1, 2, 3… per topic (as
 * `npm run simulate -- --seq` adds it), with a persistent
 * session of its own (fixed client id, clean false, MQTT 5 session expiry): QoS 1 and 2 messages
 * published while the broker is away wait in MQTT.js's outgoing store and are sent again after
 * the reconnect, as a real device's client does. QoS 0 messages are published only while
 * connected (a device drops them offline) and only those count as sent.
 */
export class SeqPublisher {
  /** Per topic: the last seq published (QoS 0: published while connected). */
  readonly sent = new Map<string, number>();
  /** Per topic: QoS 0 messages skipped while disconnected. */
  readonly skipped = new Map<string, number>();
  /** Per topic: seqs the broker acknowledged (PUBACK, PUBCOMP). */
  readonly acked = new Map<string, number>();
  /**
   * Acknowledgements with an error reason code (mosquitto answers 0x97 Quota exceeded when a client
   * sends beyond its receive maximum, as MQTT.js does when it flushes its store after a reconnect):
   * the message was not accepted, so the publisher sends it again, as a device must.
   */
  refused = 0;
  private retries = 0;
  /** QoS 1 and 2 messages handed to MQTT.js whose acknowledgement (or error) has not come yet. */
  private unacknowledged = 0;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly client: MqttClient,
    readonly topics: readonly SeqTopic[],
  ) {
    for (const t of topics) {
      this.sent.set(t.topic, 0);
      this.skipped.set(t.topic, 0);
      this.acked.set(t.topic, 0);
    }
  }

  static async connect(url: string, topics: readonly SeqTopic[] = SEQ_TOPICS, clientId = "seq-publisher") {
    const client = await mqtt.connectAsync(url, {
      clientId,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 100,
      connectTimeout: 2000,
      keepalive: 5,
      queueQoSZero: false,
    });
    client.on("error", () => {});
    return new SeqPublisher(client, topics);
  }

  /** One message on every topic. */
  publishOnce(): void {
    for (const t of this.topics) {
      if (t.qos === 0 && !this.client.connected) {
        this.skipped.set(t.topic, this.skipped.get(t.topic)! + 1);
        continue;
      }
      const seq = this.sent.get(t.topic)! + 1;
      this.sent.set(t.topic, seq);
      this.send(t, seq);
    }
  }

  private send(t: SeqTopic, seq: number): void {
    const payload = JSON.stringify({ value: 230 + (seq % 100) / 10, seq });
    if (t.qos > 0) this.unacknowledged++;
    this.client.publish(t.topic, payload, { qos: t.qos }, (err) => {
      if (t.qos === 0) return;
      this.unacknowledged--;
      if (!err) {
        this.acked.set(t.topic, this.acked.get(t.topic)! + 1);
        return;
      }
      if (this.stopped) return;
      this.refused++;
      this.retries++;
      setTimeout(() => {
        this.retries--;
        if (!this.stopped) this.send(t, seq);
      }, 50);
    });
  }

  /** `perSecond` messages per topic, in ticks of 20 ms. */
  start(perSecond: number): void {
    const perTick = Math.max(1, Math.round((perSecond * 20) / 1000));
    this.timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) this.publishOnce();
    }, 20);
  }

  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** True when connected and every QoS 1 and 2 message has been acknowledged by the broker. */
  get drained(): boolean {
    return this.client.connected && this.unacknowledged === 0 && this.retries === 0;
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    this.pause();
    await this.client.endAsync(true);
  }
}

/** Per QoS: what was sent, what reached the gateway once, lost and duplicated. */
export interface SeqTally {
  sent: number;
  received: number;
  lost: number;
  duplicated: number;
}

/**
 * Counts, per topic and seq, the messages that reached the gateway's mirror: it wraps
 * PointMirror.handle, the one call every message from the broker goes through.
 */
export class SeqReceiver {
  readonly seen = new Map<string, Map<number, number>>();

  /**
   * Wraps PointMirror.prototype.handle, so that every gateway of this process is counted from its
   * first message, also those a restarted gateway receives before start() returns; returns the undo.
   */
  tapAll(): () => void {
    const proto = PointMirror.prototype;
    const handle = proto.handle;
    const receiver = this;
    proto.handle = function (this: PointMirror, topic, payload, now) {
      receiver.record(topic, payload);
      handle.call(this, topic, payload, now);
    };
    return () => {
      proto.handle = handle;
    };
  }

  record(topic: string, payload: Uint8Array): void {
    let seq: unknown;
    try {
      seq = (JSON.parse(Buffer.from(payload).toString("utf8")) as { seq?: unknown }).seq;
    } catch {
      return;
    }
    if (typeof seq !== "number") return;
    let m = this.seen.get(topic);
    if (!m) {
      m = new Map();
      this.seen.set(topic, m);
    }
    m.set(seq, (m.get(seq) ?? 0) + 1);
  }

  /** Whether every seq of `publisher`'s topics at QoS ≥ 1 has arrived. */
  complete(publisher: SeqPublisher): boolean {
    return publisher.topics.every(
      (t) => t.qos === 0 || (this.seen.get(t.topic)?.size ?? 0) >= publisher.sent.get(t.topic)!,
    );
  }

  tally(publisher: SeqPublisher): Record<0 | 1 | 2, SeqTally> {
    const out = {
      0: { sent: 0, received: 0, lost: 0, duplicated: 0 },
      1: { sent: 0, received: 0, lost: 0, duplicated: 0 },
      2: { sent: 0, received: 0, lost: 0, duplicated: 0 },
    };
    for (const t of publisher.topics) {
      const sent = publisher.sent.get(t.topic)!;
      const seen = this.seen.get(t.topic) ?? new Map<number, number>();
      const o = out[t.qos];
      o.sent += sent;
      for (let seq = 1; seq <= sent; seq++) {
        const n = seen.get(seq) ?? 0;
        if (n === 0) o.lost++;
        else {
          o.received++;
          o.duplicated += n - 1;
        }
      }
    }
    return out;
  }
}

/** `qos1 lost 0 dup 0 of 600; …` for logs and the soak's table. */
/**
 * Ends a run: stops the publisher, waits (bounded) until every QoS ≥ 1 message it sent arrived,
 * lets duplicates land, and counts. `complete` is false when something never arrived.
 */
export async function finishRun(
  publisher: SeqPublisher,
  receiver: SeqReceiver,
  timeoutMs: number,
): Promise<{ tally: Record<0 | 1 | 2, SeqTally>; complete: boolean }> {
  publisher.pause();
  let complete = true;
  try {
    await waitFor(
      "every QoS ≥ 1 message",
      () => publisher.drained && receiver.complete(publisher),
      timeoutMs,
    );
  } catch {
    complete = false;
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { tally: receiver.tally(publisher), complete };
}

export function formatTally(t: Record<0 | 1 | 2, SeqTally>): string {
  return ([0, 1, 2] as const)
    .filter((q) => t[q].sent > 0)
    .map((q) => `QoS ${q}: ${t[q].lost} lost, ${t[q].duplicated} duplicated of ${t[q].sent}`)
    .join("; ");
}
