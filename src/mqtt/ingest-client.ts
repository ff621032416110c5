import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { GatewayConfig } from "../config/config-types.js";
import type { Logger } from "../logger.js";
import type { MessageSource, SourceHandlers } from "./message-source.js";

/** CONNACK codes that mean "I do not speak this protocol version": 3.1.1 rc 1, MQTT 5 reason 0x84. */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

/**
 * MQTT.js client of an external broker: MQTT 5 first, 3.1.1 when the broker refuses 5; a
 * persistent session (fixed client id, clean false, and under MQTT 5 a session expiry interval,
 * without which a v5 session ends with the connection); exponential reconnect backoff.
 */
export class IngestClient implements MessageSource {
  private client: MqttClient | null = null;
  private version: 4 | 5;
  private backoff: number;
  private stopping = false;
  private isUp = false;

  constructor(
    private readonly config: GatewayConfig,
    private readonly logger: Logger,
  ) {
    this.version = config.mqtt.protocolVersion;
    this.backoff = config.mqtt.reconnectPeriod;
  }

  get connected(): boolean {
    return this.isUp;
  }

  get protocol(): string {
    return this.version === 5 ? "5" : "3.1.1";
  }

  /** Resolves on the first CONNACK or the first failure; reconnecting goes on in the background. */
  start(handlers: SourceHandlers): Promise<void> {
    return new Promise((resolve) => this.connect(handlers, resolve));
  }

  private connect(handlers: SourceHandlers, firstAttemptDone: () => void): void {
    const m = this.config.mqtt;
    const options: IClientOptions = {
      protocolVersion: this.version,
      clientId: m.clientId,
      clean: false,
      keepalive: m.keepalive,
      reconnectPeriod: this.backoff,
      connectTimeout: m.connectTimeout,
      resubscribe: false,
      ...(m.username ? { username: m.username, password: m.password } : {}),
      ...(this.version === 5 ? { properties: { sessionExpiryInterval: m.sessionExpiryInterval } } : {}),
    };
    const client = mqtt.connect(m.url, options);
    this.client = client;
    let fellBack = false;

    client.on("connect", (connack) => {
      this.isUp = true;
      this.backoff = m.reconnectPeriod;
      client.options.reconnectPeriod = this.backoff;
      this.logger.info("connected to MQTT broker", {
        url: m.url,
        protocol: this.protocol,
        sessionPresent: connack.sessionPresent,
      });
      // Subscribing again is harmless with a present session and required without one.
      client.subscribe(
        Object.fromEntries(m.subscriptions.map((s) => [s.topic, { qos: s.qos }])),
        (err, granted) => {
          if (err) this.logger.error("subscribe failed", { error: err.message });
          for (const g of granted ?? [])
            if (g.qos === 128) this.logger.error("broker refused subscription", { topic: g.topic });
        },
      );
      handlers.connected();
      firstAttemptDone();
    });
    client.on("message", (topic, payload) => handlers.message(topic, payload));
    client.on("error", (err) => {
      const code = (err as { code?: number }).code;
      if (this.version === 5 && typeof code === "number" && UNSUPPORTED_PROTOCOL.has(code) && !fellBack) {
        fellBack = true;
        this.logger.warn("broker refused MQTT 5, falling back to MQTT 3.1.1", { url: m.url });
        this.version = 4;
        client.end(true, () => {
          if (!this.stopping) this.connect(handlers, firstAttemptDone);
        });
        return;
      }
      this.logger.warn("MQTT client error", { url: m.url, error: err.message, code });
      firstAttemptDone();
    });
    client.on("close", () => {
      if (fellBack) return;
      if (this.isUp) handlers.disconnected("connection closed");
      this.isUp = false;
      // Exponential backoff: MQTT.js reads reconnectPeriod anew before each attempt.
      this.backoff = Math.min(this.backoff * 2, m.reconnectPeriodMax);
      client.options.reconnectPeriod = this.backoff;
      firstAttemptDone();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const client = this.client;
    this.client = null;
    this.isUp = false;
    // Not a clean disconnect of the session: end() keeps the broker-side session for the next run.
    if (client) await client.endAsync(false);
  }
}
