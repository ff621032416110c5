import { GatewayError } from "../shared/errors.js";

/** Where MQTT messages come from: a client of an external broker, or the embedded broker itself. */
export interface BrokerLink {
  /** Starts delivering; resolves once subscribed (or once the first attempt failed, for a client). */
  start(handlers: SourceHandlers): Promise<void>;
  stop(): Promise<void>;
  readonly connected: boolean;
  /** "5", "3.1.1" or "embedded": what the gateway speaks with its broker now. */
  readonly protocol: string;
  /**
   * Publishes and resolves once the QoS handshake is complete (PUBCOMP for QoS 2). Rejects with
   * NotConnectedError when the broker is not connected: a command is never queued to go out later.
   */
  publish(topic: string, payload: string, options: PublishOptions): Promise<void>;
  /**
   * Where devices answer commands, each on `<replyTopic>/<type>/<name>/<source>` (its own, for the
   * broker's ACL); `replySubscriptionOf(replyTopic)` is subscribed on every connect.
   */
  readonly replyTopic: string;
  /** MQTT 5: commands can carry a response topic and correlation data as properties. */
  readonly responseTopicSupported: boolean;
}

export interface PublishOptions {
  qos: 0 | 1 | 2;
  retain: boolean;
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface SourceHandlers {
  message(topic: string, payload: Uint8Array): void;
  /** A message on a device's reply topic; `correlationData` is the MQTT 5 property, when present. */
  reply(topic: string, payload: Uint8Array, correlationData?: Uint8Array): void;
  /** `sessionLost`: the broker did not resume a session the gateway had (CONNACK session present 0). */
  connected(sessionLost: boolean): void;
  disconnected(reason: string): void;
  /** The broker answered the gateway's subscriptions: what it holds and what it refused. */
  subscriptions(state: SubscriptionState): void;
  /** Another client connected with the gateway's client id and took its session over. */
  sessionTakenOver(takeover: SessionTakeover): void;
}

/** A topic filter the broker refused in its SUBACK. */
export interface RefusedSubscription {
  filter: string;
  /** The SUBACK return code: 0x80 under MQTT 3.1.1, the MQTT 5 reason code (0x87 Not authorized…). */
  reasonCode: number;
  reason: string;
}

export interface SubscriptionState {
  /** Filters the broker granted (in this connection or kept in the present session). */
  granted: string[];
  refused: RefusedSubscription[];
}

export interface SessionTakeover {
  clientId: string;
  /** The MQTT 5 DISCONNECT 0x8E, or the silent closes that suggest a takeover. */
  evidence: string;
}

/**
 * The reason `disconnected` gives when the keep-alive watchdog took a silent link for lost (a dead
 * route: no FIN, no RST); counted as smartgear_mqtt_keepalive_timeouts_total.
 */
export const KEEPALIVE_TIMEOUT = "keep-alive timeout";

export class NotConnectedError extends GatewayError {
  constructor(what: string) {
    super("E_NOT_CONNECTED", `cannot publish ${what}: the broker is not connected`);
  }
}

/**
 * The reply topic of a gateway: the configured template with its MQTT client id. Read once, when a
 * link is built: both keys need a restart to change (app/reload).
 */
export function replyTopicOf(config: {
  commands: { replyTopic: string };
  mqtt: { clientId: string };
}): string {
  return config.commands.replyTopic.replace("{clientId}", config.mqtt.clientId);
}

/** The filter that takes every device's answers: the reply topic and three levels (type, name, source). */
export function replySubscriptionOf(replyTopic: string): string {
  return `${replyTopic}/+/+/+`;
}
