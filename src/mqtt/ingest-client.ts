import { join } from "node:path";
import type { ConnectionOptions } from "node:tls";
import mqtt, { type IClientOptions, type MqttClient, ReasonCodes } from "mqtt";
import type { GatewayConfig } from "../config/config-types.js";
import type { Logger } from "../shared/logger.js";
import {
  type BrokerLink,
  KEEPALIVE_TIMEOUT,
  NotConnectedError,
  type PublishOptions,
  type RefusedSubscription,
  replySubscriptionOf,
  replyTopicOf,
  type SourceHandlers,
  type SubscriptionState,
} from "./broker-link.js";
import { FileStore } from "./file-store.js";
import { KeepaliveWatchdog } from "./keepalive-watchdog.js";
import { checkMqttJsVersion, MQTT_JS_KEEPALIVE_TIMEOUT } from "./mqtt-js-internals.js";
import { SessionFilters } from "./session-filters.js";
import { type ClientSecurity, isTlsUrl, loadClientSecurity, redactUrl } from "./tls-options.js";

/** CONNACK codes that mean "I do not speak this protocol version": 3.1.1 rc 1, MQTT 5 reason 0x84. */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);
/** CONNACK refusals of the credentials: 3.1.1 rc 4 and 5; MQTT 5 0x86, 0x87, 0x8C (bad auth method). */
const CREDENTIALS_REFUSED = new Set([4, 5, 0x86, 0x87, 0x8c]);
/** Node's codes for a TLS handshake or certificate failure (OpenSSL's X.509 names, ERR_TLS_*, ERR_SSL_*). */
const TLS_FAILURE = /CERT|SSL|TLS|UNABLE_TO|SELF_SIGNED|DEPTH_ZERO|ALTNAME/;
/**
 * An OpenSSL alert in an EPROTO error: Node reports a TLS alert received mid-handshake (a broker
 * capped at TLS 1.2 answering a 1.3-only client: "tlsv1 alert protocol version") as a socket EPROTO.
 */
const TLS_ALERT = /SSL routines|SSL alert/i;
/** MQTT 5 DISCONNECT reason: another connection took over this client id's session (§3.14.2.1). */
const SESSION_TAKEN_OVER = 0x8e;
/**
 * Without a reason (MQTT 3.1.1, and mosquitto 2.0.11 under MQTT 5 too, which closes the older
 * connection without its DISCONNECT), this many connections in a row closed silently this soon
 * after CONNACK are taken for a takeover.
 */
const SHORT_CONNECTION_MS = 10_000;
const SHORT_CONNECTIONS_IN_A_ROW = 3;
/** A takeover after this long without one starts a new burst, logged again at error level. */
const TAKEOVER_BURST_MS = 60_000;
/** How long stop() waits for MQTT.js to end the connection (less than IngestThread's 5 s for the thread). */
const STOP_TIMEOUT_MS = 3000;

/** Why the last connection attempt failed, for diagnostics and tests. */
export interface ConnectFailure {
  kind: "tls" | "credentials" | "network";
  /** Node's error code (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ECONNREFUSED) or the CONNACK reason code. */
  reason: string;
  message: string;
}

/** What the client reads of the configuration (all of it plain data, so a worker thread can get it). */
export interface IngestConfig {
  mqtt: GatewayConfig["mqtt"];
  commands: Pick<GatewayConfig["commands"], "replyTopic">;
}

/** What lets the ingest thread hold MQTT.js while the main thread is behind. */
export interface MessageGate {
  /**
   * Called for each message after its handler, with what lets MQTT.js go on to the next packet (and,
   * for QoS 1, send the PUBACK); holding `next` holds the connection (TCP flow control does the rest).
   */
  pass(next: () => void): void;
  /** Whether a `next` is held now: MQTT.js reads nothing meanwhile, a silence of ours, not the broker's. */
  holding(): boolean;
}

/**
 * MQTT.js client of an external broker: MQTT 5 first, 3.1.1 when the broker refuses 5; a
 * persistent session (fixed client id, clean false, and under MQTT 5 a session expiry interval,
 * without which a v5 session ends with the connection); exponential reconnect backoff.
 */
export class IngestClient implements BrokerLink {
  private client: MqttClient | null = null;
  private version: 4 | 5;
  private backoff: number;
  private stopping = false;
  private isUp = false;
  private security: ClientSecurity | null = null;
  /**
   * Inbound QoS 2 messages between PUBREC and PUBREL (mqtt.storeFolder): on disk, they survive a
   * crash and are delivered once when the broker repeats its PUBREL; null keeps them in memory.
   */
  readonly incomingStore: FileStore | null;
  /** The failure last logged at its level; its repetitions go to debug until a connection succeeds. */
  private loggedFailure = "";
  /** Connection attempts that failed since start (TLS, credentials or network). */
  connectFailures = 0;
  lastFailure: ConnectFailure | null = null;
  /**
   * Filters the broker holds in this client's session. A present session keeps them (MQTT 3.1.1
   * §3.1.2.4, MQTT 5 §4.1), and subscribing one again would make the broker send every retained
   * message under it again ([MQTT-3.8.4-3]).
   */
  private readonly granted: SessionFilters;
  /** Until the first CONNACK: whether filters an earlier run left in a kept session were dropped. */
  private leftOverChecked = false;
  /** Filters the broker refused, asked again at each connect (its ACL may have been fixed). */
  private readonly refused = new Map<string, RefusedSubscription>();
  private connectedAt = 0;
  /** Connections in a row that the broker closed silently within SHORT_CONNECTION_MS. */
  private shortConnections = 0;
  readonly replyTopic: string;
  private lastTakeoverAt = Number.NEGATIVE_INFINITY;
  /** Times another client took the session over (MQTT 5 DISCONNECT 0x8E, or the 3.1.1 pattern). */
  sessionTakeovers = 0;
  /** The current client's; stopped first by stop(), whose unforced end may take seconds. */
  private watchdog: KeepaliveWatchdog | null = null;
  /** CONNACKs without the session the gateway had (session present 0). */
  sessionsNotResumed = 0;

  constructor(
    private readonly config: IngestConfig,
    private readonly logger: Logger,
    private readonly gate: MessageGate | null = null,
  ) {
    this.version = config.mqtt.protocolVersion;
    this.backoff = config.mqtt.reconnectPeriod;
    this.replyTopic = replyTopicOf(config);
    const folder = config.mqtt.storeFolder;
    const ownFolder = folder ? join(folder, encodeURIComponent(config.mqtt.clientId)) : null;
    this.incomingStore = ownFolder ? new FileStore(join(ownFolder, "incoming")) : null;
    this.granted = new SessionFilters(ownFolder ? join(ownFolder, "subscriptions.json") : null);
  }

  get connected(): boolean {
    return this.isUp;
  }

  get responseTopicSupported(): boolean {
    return this.version === 5;
  }

  async publish(topic: string, payload: string, options: PublishOptions): Promise<void> {
    const client = this.client;
    // MQTT.js would keep the message and send it after a reconnect: a stale command, not ours.
    if (!client || !this.isUp || !client.connected) throw new NotConnectedError(topic);
    await client.publishAsync(topic, payload, {
      qos: options.qos,
      retain: options.retain,
      ...(this.version === 5 && options.responseTopic
        ? { properties: { responseTopic: options.responseTopic, correlationData: options.correlationData } }
        : {}),
    });
  }

  get protocol(): string {
    return this.version === 5 ? "5" : "3.1.1";
  }

  /**
   * Reads the credential and certificate files (throws ProblemsError when one is unusable), then
   * resolves on the first CONNACK or the first failure; reconnecting goes on in the background.
   */
  start(handlers: SourceHandlers): Promise<void> {
    checkMqttJsVersion();
    const m = this.config.mqtt;
    this.security = loadClientSecurity(m);
    const url = redactUrl(m.url);
    if (isTlsUrl(m.url) && !m.tls.rejectUnauthorized)
      this.logger.warn(
        "INSECURE: mqtt.tls.rejectUnauthorized is false, the broker's certificate is not verified; anyone on the path can impersonate the broker and read the credentials",
        { url },
      );
    if (!isTlsUrl(m.url) && (m.tls.caFile || m.tls.certFile || m.tls.serverName))
      this.logger.warn("mqtt.tls is set but mqtt.url is not mqtts://, tls:// or wss://: TLS is not used", {
        url,
      });
    if (!isTlsUrl(m.url) && this.security.password !== undefined)
      this.logger.warn("the MQTT password travels unencrypted: use an mqtts:// URL", { url });
    return new Promise((resolve) => this.connect(handlers, resolve));
  }

  private connect(handlers: SourceHandlers, firstAttemptDone: () => void): void {
    const m = this.config.mqtt;
    const security = this.security!;
    const url = redactUrl(m.url);
    // MQTT.js hands every option on to tls.connect; its own type names only some of them.
    const options: IClientOptions & Pick<ConnectionOptions, "minVersion" | "passphrase"> = {
      protocolVersion: this.version,
      clientId: m.clientId,
      clean: false,
      keepalive: m.keepalive,
      reconnectPeriod: this.backoff,
      connectTimeout: m.connectTimeout,
      resubscribe: false,
      // A refused login is retried with the backoff: the broker's user may be fixed meanwhile.
      reconnectOnConnackError: true,
      ...(this.incomingStore ? { incomingStore: this.incomingStore } : {}),
      ...(security.username ? { username: security.username } : {}),
      ...(security.password !== undefined ? { password: security.password } : {}),
      ...(isTlsUrl(m.url) ? security.tls : {}),
      ...(this.version === 5 ? { properties: { sessionExpiryInterval: m.sessionExpiryInterval } } : {}),
      // MQTT.js traces every packet through `debug`, several calls a message even with tracing off
      // (~2% of the gateway's CPU at 60,000 msg/s); with DEBUG set, its tracing stays.
      ...(process.env.DEBUG ? {} : { log: () => {} }),
    };
    const client = mqtt.connect(m.url, options);
    this.client = client;
    const gate = this.gate;
    if (gate) client.handleMessage = (_packet, next) => gate.pass(next);
    let fellBack = false;
    /** The connection's end has a reason (an error, a DISCONNECT, the watchdog): not a silent close. */
    let explained = false;
    let lostReason = "connection closed";
    /** The link was silent too long, by the watchdog's count or MQTT.js's (whichever came first). */
    const silent = (silenceMs: number) => {
      explained = true;
      lostReason = KEEPALIVE_TIMEOUT;
      this.logger.warn(
        "no packet from the MQTT broker within its keep-alive: link taken for lost, reconnecting",
        {
          url,
          silenceMs: Math.round(silenceMs),
          keepalive: client.keepalive,
        },
      );
    };
    const watchdog = new KeepaliveWatchdog(
      client,
      () => gate?.holding() ?? false,
      (silenceMs) => {
        silent(silenceMs);
        // As MQTT.js's own keep-alive timeout does: the stream's close reconnects with the backoff,
        // once, and the session (clean false) stays on the broker with what it queues meanwhile.
        client.stream.destroy();
      },
    );
    this.watchdog = watchdog;

    client.on("connect", (connack) => {
      this.incomingStore?.connectionChanged(true);
      this.isUp = true;
      this.connectedAt = Date.now();
      this.loggedFailure = "";
      // A new session: the broker sends no PUBREL for what an older one left on disk, and holds
      // no subscription.
      const sessionLost = !connack.sessionPresent && this.sessionNotResumed(url);
      if (!connack.sessionPresent) {
        this.incomingStore?.clear();
        this.granted.clear();
      }
      this.backoff = m.reconnectPeriod;
      client.options.reconnectPeriod = this.backoff;
      watchdog.start(client.keepalive);
      // The options hold the password and the key: log only what says how the link is secured.
      this.logger.info("connected to MQTT broker", {
        url,
        protocol: this.protocol,
        sessionPresent: connack.sessionPresent,
        tls: isTlsUrl(m.url) ? tlsSummary(client) : "none",
        clientCertificate: Boolean(security.tls.cert),
        username: security.username ?? "",
      });
      handlers.connected(sessionLost);
      const wanted = this.wantedFilters();
      if (!this.leftOverChecked && connack.sessionPresent) this.unsubscribeLeftOver(client, wanted);
      this.leftOverChecked = true;
      this.subscribe(client, handlers, wanted);
      firstAttemptDone();
    });
    const replyLevels = `${this.replyTopic}/`;
    client.on("disconnect", (packet) => {
      explained = true;
      const code = packet.reasonCode ?? 0;
      if (code === SESSION_TAKEN_OVER)
        this.sessionTakenOver(handlers, "MQTT 5 DISCONNECT 0x8E Session taken over");
      else
        this.logger.warn("the broker ended the connection", {
          url,
          reasonCode: hex(code),
          reason: ReasonCodes[code as keyof typeof ReasonCodes] ?? "",
        });
    });
    client.on("message", (topic, payload, packet) => {
      if (topic.startsWith(replyLevels)) handlers.reply(topic, payload, packet.properties?.correlationData);
      else handlers.message(topic, payload);
    });
    client.on("error", (err) => {
      const code = (err as { code?: number }).code;
      if (this.version === 5 && typeof code === "number" && UNSUPPORTED_PROTOCOL.has(code) && !fellBack) {
        fellBack = true;
        this.logger.warn("broker refused MQTT 5, falling back to MQTT 3.1.1", { url });
        this.version = 4;
        client.end(true, () => {
          if (!this.stopping) this.connect(handlers, firstAttemptDone);
        });
        return;
      }
      // MQTT.js's own timer (1.5 keep-alives after its last PINGRESP or acknowledgement; an inbound
      // PUBLISH does not count for it) may end a stalled link before the watchdog: the same loss.
      if (err.message === MQTT_JS_KEEPALIVE_TIMEOUT) {
        silent(watchdog.silenceMs());
        return;
      }
      explained = true;
      this.failed(classify(err), url);
      firstAttemptDone();
    });
    client.on("close", () => {
      watchdog.stop();
      this.incomingStore?.connectionChanged(false);
      if (fellBack) return;
      if (this.isUp && !this.stopping) this.silentClose(handlers, !explained);
      explained = false;
      if (this.isUp) handlers.disconnected(lostReason);
      lostReason = "connection closed";
      this.isUp = false;
      // Exponential backoff: MQTT.js reads reconnectPeriod anew before each attempt.
      this.backoff = Math.min(this.backoff * 2, m.reconnectPeriodMax);
      client.options.reconnectPeriod = this.backoff;
      firstAttemptDone();
    });
  }

  /**
   * Subscribes what the broker does not hold: everything on a new session (and on the first
   * connection of this process, whose mirror is empty and needs the retained messages), on a
   * present one what it refused before. Under MQTT 5 the filters a present session should hold
   * go along with Retain Handling 1 (§3.8.3.1: retained messages only for a subscription that did
   * not exist): a broker restored from an older snapshot (mosquitto after a kill -9, one taken
   * between CONNECT and SUBSCRIBE) says session present without the subscription, and would send
   * nothing for ever; one that holds it replaces it, its flow not interrupted ([MQTT-3.8.4-3]),
   * and sends no retained message. MQTT 3.1.1 has no such option: a held filter is not asked again.
   */
  private subscribe(client: MqttClient, handlers: SourceHandlers, wanted: Map<string, 0 | 1 | 2>): void {
    const confirm = this.version === 5;
    const request: Record<string, { qos: 0 | 1 | 2; rh?: 1 }> = {};
    for (const [filter, qos] of wanted)
      if (!this.granted.has(filter)) request[filter] = { qos };
      else if (confirm) request[filter] = { qos, rh: 1 };
    // MQTT.js sends the filters in the object's key order, and the SUBACK answers in that order.
    const filters = Object.keys(request);
    if (filters.length === 0) {
      this.logger.debug("session present: the broker holds every subscription", { count: wanted.size });
      return;
    }
    client.subscribe(request, (err, _subs, suback) => {
      // MQTT.js passes the requested QoS in `_subs` even when the SUBACK refused: its codes are
      // in the packet, one per filter in the order sent ([MQTT-3.9.3-1]).
      const codes = (suback as { granted?: number[] } | undefined)?.granted;
      if (!codes) {
        // No SUBACK: the connection ended first (asked again at the next connect), or MQTT.js refused.
        if (err && client.connected)
          this.logger.error("subscribe failed", { topics: filters, error: err.message });
        else if (err)
          this.logger.debug("subscribe not answered before the connection ended", { topics: filters });
        return;
      }
      for (const [i, filter] of filters.entries()) this.subacked(filter, codes[i] ?? 0x80);
      this.saveGranted();
      handlers.subscriptions(this.subscriptionState());
    });
  }

  /** The configured filters and the reply topic, with their QoS. */
  private wantedFilters(): Map<string, 0 | 1 | 2> {
    return new Map<string, 0 | 1 | 2>([
      ...this.config.mqtt.subscriptions.map((s) => [s.topic, s.qos] as const),
      [replySubscriptionOf(this.replyTopic), 1],
    ]);
  }

  /**
   * mqtt.subscriptions is read at start (a SIGHUP reload that changes it asks for a restart): a
   * session the broker kept may hold filters the previous run had and this one dropped. Sent before
   * the SUBSCRIBE, whose SUBACK then rewrites the list.
   */
  private unsubscribeLeftOver(client: MqttClient, wanted: Map<string, 0 | 1 | 2>): void {
    const leftOver = this.granted.leftOver(new Set(wanted.keys()));
    if (leftOver.length === 0) return;
    client.unsubscribe(leftOver, (err) => {
      if (err)
        this.logger.warn("could not unsubscribe filters no longer configured", {
          topics: leftOver,
          error: err.message,
        });
      else
        this.logger.info("unsubscribed filters no longer in mqtt.subscriptions from the kept session", {
          topics: leftOver,
        });
    });
  }

  /**
   * A session the gateway had (filters granted in this run, or on disk from the last one) that the
   * broker did not keep: whatever was published for the gateway meanwhile is gone, and nothing in
   * the stream shows the gap. Not when sessions cannot outlive a connection (MQTT 5 with
   * mqtt.sessionExpiryInterval 0). Logged here, counted by the gateway (true: it was lost).
   */
  private sessionNotResumed(url: string): boolean {
    const m = this.config.mqtt;
    if (this.version === 5 && m.sessionExpiryInterval === 0) return false;
    if (this.granted.list().length === 0 && this.granted.leftOver(new Set()).length === 0) return false;
    this.sessionsNotResumed++;
    this.logger.warn(
      "the broker did not resume the gateway's MQTT session: messages published meanwhile are lost",
      {
        url,
        clientId: m.clientId,
        sessionsNotResumed: this.sessionsNotResumed,
        hint: "the broker lost or expired the session: keep its persistence on (mosquitto: persistence true), and its session expiry (mqtt.sessionExpiryInterval, mosquitto: persistent_client_expiration) longer than the gateway may be away",
      },
    );
    return true;
  }

  /** The list on disk follows each SUBACK; a disk that refuses costs only the next start's cleanup. */
  private saveGranted(): void {
    try {
      this.granted.save();
    } catch (err) {
      this.logger.warn("could not write the subscribed filters to mqtt.storeFolder", {
        error: (err as Error).message,
      });
    }
  }

  /** One filter's SUBACK code: 0–2 granted; 0x80 refused (3.1.1), ≥ 0x80 refused with a reason (5). */
  private subacked(filter: string, code: number): void {
    if (code < 0x80) {
      this.granted.add(filter);
      if (this.refused.delete(filter))
        this.logger.info("the broker now grants a subscription", { topic: filter });
      return;
    }
    const reason = this.version === 4 ? "Failure" : (ReasonCodes[code as keyof typeof ReasonCodes] ?? "");
    const before = this.refused.get(filter);
    this.refused.set(filter, { filter, reasonCode: code, reason });
    const meta = { topic: filter, reasonCode: hex(code), reason };
    // Asked again at every connect: the same refusal is not news.
    if (before?.reasonCode === code) this.logger.debug("the broker refused a subscription again", meta);
    else
      this.logger.error("the broker refused a subscription: its points show BadConfigurationError", {
        ...meta,
        hint: "allow the gateway's user to subscribe to this filter in the broker's ACL, or remove it from mqtt.subscriptions",
      });
  }

  /** What the broker holds and refused now. */
  subscriptionState(): SubscriptionState {
    return { granted: this.granted.list(), refused: [...this.refused.values()] };
  }

  /**
   * MQTT 3.1.1 says nothing when another client takes the session over ([MQTT-3.1.4-2]: the broker
   * just closes the older connection), and not every MQTT 5 broker sends DISCONNECT 0x8E first;
   * connections that the broker closes silently soon after accepting them, several in a row, are
   * the sign.
   */
  private silentClose(handlers: SourceHandlers, silent: boolean): void {
    const short = silent && Date.now() - this.connectedAt < SHORT_CONNECTION_MS;
    this.shortConnections = short ? this.shortConnections + 1 : 0;
    if (this.shortConnections < SHORT_CONNECTIONS_IN_A_ROW) return;
    this.shortConnections = 0;
    this.sessionTakenOver(
      handlers,
      `the broker closed ${SHORT_CONNECTIONS_IN_A_ROW} connections in a row within ${SHORT_CONNECTION_MS / 1000} s of accepting them, without a reason`,
    );
  }

  /** Counted each time; logged at error level once per burst, the rest of the burst at debug. */
  private sessionTakenOver(handlers: SourceHandlers, evidence: string): void {
    this.sessionTakeovers++;
    const now = Date.now();
    const clientId = this.config.mqtt.clientId;
    const meta = { clientId, evidence, takeovers: this.sessionTakeovers };
    if (now - this.lastTakeoverAt >= TAKEOVER_BURST_MS)
      this.logger.error(
        "another MQTT client took over the gateway's session: it gets the gateway's messages meanwhile",
        {
          ...meta,
          hint: "give each gateway its own mqtt.clientId, and let the broker's ACL allow this client id to the gateway's user only",
        },
      );
    else this.logger.debug("the gateway's MQTT session was taken over again", meta);
    this.lastTakeoverAt = now;
    handlers.sessionTakenOver({ clientId, evidence });
  }

  /** Logs a failure once at its level; the same failure again (every backoff) only at debug. */
  private failed(failure: ConnectFailure, url: string): void {
    this.connectFailures++;
    this.lastFailure = failure;
    const key = `${failure.kind}:${failure.reason}`;
    const meta = { url, reason: failure.reason, error: failure.message };
    if (key === this.loggedFailure) {
      this.logger.debug("MQTT connection failed again", meta);
      return;
    }
    this.loggedFailure = key;
    if (failure.kind === "tls")
      this.logger.error("TLS with the MQTT broker failed: not connected", {
        ...meta,
        hint: /protocol version/i.test(failure.message)
          ? "the broker and mqtt.tls.minVersion share no TLS version: set mqtt.tls.minVersion TLSv1.2 or let the broker speak TLS 1.3"
          : "check mqtt.tls.caFile (the CA that signed the broker's certificate), mqtt.tls.serverName, and the client certificate",
      });
    else if (failure.kind === "credentials")
      this.logger.error("the MQTT broker refused the login: not connected", {
        ...meta,
        hint: "check mqtt.username and mqtt.password or mqtt.passwordFile",
      });
    else this.logger.warn("MQTT client error", meta);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.watchdog?.stop();
    const client = this.client;
    this.client = null;
    this.isUp = false;
    if (!client) return;
    // Not a clean disconnect of the session: end() keeps the broker-side session for the next run.
    // Unforced, MQTT.js's end() waits until every packet it sent is acknowledged, for ever when the
    // broker never answers one (or the link died first): a shutdown must not hang on it.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
    });
    const late = await Promise.race([client.endAsync(false).then(() => false), timedOut]);
    clearTimeout(timer);
    if (!late) return;
    this.logger.warn("the MQTT connection did not end in time; closing it", { afterMs: STOP_TIMEOUT_MS });
    // end() is under way and would ignore a forced end: close the socket itself.
    client.stream?.destroy();
  }
}

function classify(err: Error): ConnectFailure {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "number")
    return {
      kind: CREDENTIALS_REFUSED.has(code) ? "credentials" : "network",
      reason: String(code),
      message: err.message,
    };
  if ((typeof code === "string" && TLS_FAILURE.test(code)) || err.message === "TLS not authorized")
    return {
      kind: "tls",
      reason: typeof code === "string" ? code : "TLS_NOT_AUTHORIZED",
      message: err.message,
    };
  if (code === "EPROTO" && TLS_ALERT.test(err.message)) {
    // The reason names the alert ("tlsv1 alert protocol version"), of more use than EPROTO.
    const alert = /:([a-z0-9 ]*alert [a-z0-9 ]+):/i.exec(err.message)?.[1];
    return { kind: "tls", reason: alert ?? code, message: err.message };
  }
  return { kind: "network", reason: typeof code === "string" ? code : "unknown", message: err.message };
}

/** A reason code as the MQTT specification writes it, e.g. 0x87. */
function hex(code: number): string {
  return `0x${code.toString(16).toUpperCase().padStart(2, "0")}`;
}

/** The negotiated TLS version and cipher, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384`. */
function tlsSummary(client: MqttClient): string {
  const socket = client.stream as unknown as {
    getProtocol?: () => string | null;
    getCipher?: () => { name: string };
  };
  return `${socket.getProtocol?.() ?? "?"} ${socket.getCipher?.().name ?? ""}`.trim();
}
