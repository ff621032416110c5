import type { Worker } from "node:worker_threads";
import type { Logger } from "../shared/logger.js";
import { newWorker } from "../shared/worker-thread.js";
import {
  type BrokerLink,
  NotConnectedError,
  type PublishOptions,
  replyTopicOf,
  type SourceHandlers,
} from "./broker-link.js";
import type { IngestConfig } from "./ingest-client.js";
import type {
  FromThread,
  IngestThreadData,
  ThreadBacklog,
  ThreadError,
  ThreadState,
  ToThread,
} from "./ingest-thread-protocol.js";
import { loadClientSecurity } from "./tls-options.js";

/**
 * Batches handed to the main thread and not yet handled, at most: beyond, the thread holds MQTT.js
 * (and so the broker). 8 × 2,048 messages bound what waits between the threads to a few MB.
 */
const MAX_BATCHES_IN_FLIGHT = 8;
const MAX_BATCH = 2048;
/** How long stop() waits for the thread to end its MQTT connection before ending the thread. */
const STOP_TIMEOUT_MS = 5000;

/**
 * The IngestClient in a worker thread (mqtt.ingestThread): MQTT.js reads, parses and acknowledges
 * on another core, and the main thread, which owns the OPC UA server, gets the messages in batches.
 * At 65,000 msg/s MQTT.js took about a third of the main thread's time (bench).
 *
 * A QoS 1 message is acknowledged once it is handed to the main thread, not once mirrored: the
 * mirror is not persistent anyway (a restarted gateway starts every point without a value and the
 * broker's retained messages refill it). Inbound QoS 2 keeps its on-disk store, in the thread.
 * If the thread dies, the points turn uncertain as on a lost connection and a new thread starts
 * after mqtt.reconnectPeriod (doubling up to mqtt.reconnectPeriodMax while threads keep dying).
 */
export class IngestThread implements BrokerLink {
  private worker: Worker | null = null;
  private state: ThreadState;
  private handlers: SourceHandlers | null = null;
  private stopping = false;
  private nextId = 1;
  private readonly calls = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void; topic: string }
  >();
  private restartTimer: NodeJS.Timeout | null = null;
  /** Until a thread connects again after one ended; reset to mqtt.reconnectPeriod by a connection. */
  private restartDelay: number;
  readonly replyTopic: string;

  constructor(
    private readonly config: IngestConfig,
    private readonly logger: Logger,
  ) {
    this.restartDelay = config.mqtt.reconnectPeriod;
    this.replyTopic = replyTopicOf(config);
    this.state = {
      connected: false,
      protocol: config.mqtt.protocolVersion === 5 ? "5" : "3.1.1",
      responseTopicSupported: config.mqtt.protocolVersion === 5,
    };
  }

  get connected(): boolean {
    return this.state.connected;
  }

  get protocol(): string {
    return this.state.protocol;
  }

  get responseTopicSupported(): boolean {
    return this.state.responseTopicSupported;
  }

  /** Resolves as IngestClient.start does: on the first CONNACK or the first failure. */
  start(handlers: SourceHandlers): Promise<void> {
    // Unreadable credentials or certificates fail here, in the caller's thread, with their problems.
    loadClientSecurity(this.config.mqtt);
    this.handlers = handlers;
    return new Promise((resolve, reject) => this.spawn(resolve, reject));
  }

  private spawn(started: () => void, failed: (err: Error) => void): void {
    const data: IngestThreadData = {
      config: this.config,
      maxBatchesInFlight: MAX_BATCHES_IN_FLIGHT,
      maxBatch: MAX_BATCH,
    };
    const worker = newWorker(import.meta.url, "ingest-thread-worker", data);
    this.worker = worker;
    worker.on("message", (m: FromThread) => this.received(m, started, failed));
    let failure = "";
    worker.on("error", (err) => {
      failure = err.message;
    });
    worker.on("exit", (code) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.failCalls();
      if (this.stopping) return;
      // Doubling, as the reconnects do: a thread that dies at once is not restarted in a tight loop.
      const inMs = this.restartDelay;
      this.restartDelay = Math.min(inMs * 2, this.config.mqtt.reconnectPeriodMax);
      this.logger.error("MQTT ingest thread ended; starting a new one", {
        exitCode: code,
        error: failure,
        inMs,
      });
      if (this.state.connected) {
        this.state = { ...this.state, connected: false };
        this.handlers?.disconnected("ingest thread ended");
      }
      started();
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopping)
          this.spawn(
            () => {},
            () => {},
          );
      }, inMs);
    });
  }

  private received(m: FromThread, started: () => void, failed: (err: Error) => void): void {
    const h = this.handlers!;
    switch (m.t) {
      case "batch": {
        const all = Buffer.from(m.payloads);
        let offset = 0;
        try {
          for (let i = 0; i < m.topics.length; i++) {
            const length = m.lengths[i]!;
            h.message(m.topics[i]!, all.subarray(offset, offset + length));
            offset += length;
          }
        } finally {
          // Whatever happened to a message, the thread must not wait for this ack for ever.
          this.post({ t: "ack" });
        }
        break;
      }
      case "reply":
        h.reply(m.topic, Buffer.from(m.payload), m.correlationData && Buffer.from(m.correlationData));
        break;
      case "connected":
        this.state = m.state;
        this.restartDelay = this.config.mqtt.reconnectPeriod;
        h.connected(m.sessionLost);
        break;
      case "disconnected":
        this.state = m.state;
        h.disconnected(m.reason);
        break;
      case "subscriptions":
        h.subscriptions(m.subscriptions);
        break;
      case "takeover":
        h.sessionTakenOver(m.takeover);
        break;
      case "started":
        this.state = m.state;
        started();
        break;
      case "startFailed":
        failed(rebuild(m.error, ""));
        break;
      case "published":
      case "answer": {
        const call = this.calls.get(m.id);
        this.calls.delete(m.id);
        if (!call) break;
        if (m.t === "answer") call.resolve(m.value);
        else if (m.error) call.reject(rebuild(m.error, call.topic));
        else call.resolve(undefined);
        break;
      }
      case "log":
        this.logger.log(m.level, m.message, m.meta);
        break;
      case "stopped":
        break;
    }
  }

  async publish(topic: string, payload: string, options: PublishOptions): Promise<void> {
    if (!this.state.connected || !this.worker) throw new NotConnectedError(topic);
    await this.call(topic, (id) => ({ t: "publish", id, topic, payload, options }));
  }

  /** What waits between the threads (diagnostics); null while no thread runs (it ended, or stopped). */
  async backlog(): Promise<ThreadBacklog | null> {
    // Asked of no thread, the question would wait for an answer for ever.
    if (!this.worker) return null;
    return (await this.call("", (id) => ({ t: "query", id }))) as ThreadBacklog;
  }

  private call(topic: string, message: (id: number) => ToThread): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject, topic });
      this.post(message(id));
    });
  }

  private post(m: ToThread): void {
    this.worker?.postMessage(m);
  }

  /** Calls the thread can no longer answer: their topics were not published (or not known to be). */
  private failCalls(): void {
    for (const call of this.calls.values()) call.reject(new NotConnectedError(call.topic || "(query)"));
    this.calls.clear();
  }

  /** Ends the connection as IngestClient.stop does (the broker keeps the session), then the thread. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    let timer: NodeJS.Timeout | undefined;
    const stopped = new Promise<void>((resolve) => {
      worker.on("message", (m: FromThread) => {
        if (m.t === "stopped") resolve();
      });
      worker.once("exit", () => resolve());
      // A connection that does not end in time (a stalled link) must not hold up the shutdown.
      timer = setTimeout(() => {
        this.logger.warn("MQTT ingest thread did not end its connection in time; stopping it", {
          afterMs: STOP_TIMEOUT_MS,
        });
        resolve();
      }, STOP_TIMEOUT_MS);
    });
    this.post({ t: "stop" });
    await stopped;
    clearTimeout(timer);
    this.worker = null;
    this.state = { ...this.state, connected: false };
    this.failCalls();
    await worker.terminate();
  }
}

/** The error the caller would have had from IngestClient itself. */
function rebuild(e: ThreadError, topic: string): Error {
  if (e.code === "E_NOT_CONNECTED") return new NotConnectedError(topic);
  return Object.assign(new Error(e.message), { name: e.name, ...(e.code ? { code: e.code } : {}) });
}
