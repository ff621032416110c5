import type { PublishOptions, SessionTakeover, SubscriptionState } from "./broker-link.js";
import type { IngestConfig } from "./ingest-client.js";

/** What the ingest thread starts with. */
export interface IngestThreadData {
  config: IngestConfig;
  /** Batches handed over and not yet acknowledged at most, before MQTT.js is held. */
  maxBatchesInFlight: number;
  /** Messages in one batch at most. */
  maxBatch: number;
}

/** The connection as the main thread mirrors it. */
export interface ThreadState {
  connected: boolean;
  protocol: string;
  responseTopicSupported: boolean;
}

/** What waits between the threads: batches not yet handled, and MQTT.js held meanwhile. */
export interface ThreadBacklog {
  batchesInFlight: number;
  maxBatchesInFlight: number;
  /** Messages whose MQTT.js continuation is held (at most one per connection: MQTT.js waits for it). */
  held: number;
  /** The most batches in flight so far. */
  maxSeen: number;
  /** How often MQTT.js was held because the main thread was behind. */
  timesHeld: number;
}

/** An error that crossed the thread boundary: enough to rebuild the one the caller expects. */
export interface ThreadError {
  name: string;
  code?: string;
  message: string;
}

/** Thread → main, in the order things happened (a batch is always sent before a later event). */
export type FromThread =
  /** Messages: topics, payload lengths, payloads end to end in one transferred buffer. */
  | { t: "batch"; topics: string[]; lengths: Uint32Array; payloads: ArrayBuffer }
  | { t: "reply"; topic: string; payload: Uint8Array; correlationData?: Uint8Array }
  | { t: "connected"; state: ThreadState; sessionLost: boolean }
  | { t: "disconnected"; reason: string; state: ThreadState }
  | { t: "subscriptions"; subscriptions: SubscriptionState }
  | { t: "takeover"; takeover: SessionTakeover }
  | { t: "started"; state: ThreadState }
  | { t: "startFailed"; error: ThreadError }
  | { t: "published"; id: number; error?: ThreadError }
  | { t: "answer"; id: number; value: ThreadBacklog }
  | { t: "log"; level: string; message: string; meta: Record<string, unknown> }
  | { t: "stopped" };

/** Main → thread. */
export type ToThread =
  | { t: "ack" }
  | { t: "publish"; id: number; topic: string; payload: string; options: PublishOptions }
  /** What waits between the threads (ThreadBacklog), answered at once. */
  | { t: "query"; id: number }
  | { t: "stop" };
