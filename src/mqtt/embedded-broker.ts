import net from "node:net";
import tls from "node:tls";
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from "aedes";
import { isLoopback } from "../config/check-security.js";
import type { GatewayConfig } from "../config/config-types.js";
import { type BrokerRefusal, IngestCounters } from "../mapping/counters.js";
import { listenError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";
import { BrokerAuth } from "./broker-auth.js";
import {
  type BrokerLink,
  NotConnectedError,
  type PublishOptions,
  replySubscriptionOf,
  replyTopicOf,
  type SourceHandlers,
} from "./broker-link.js";
import { PacketScanner } from "./packet-guard.js";
import { RetainedBudget } from "./retained-budget.js";
import { loadBrokerTls } from "./tls-options.js";

type Deliver = Parameters<Aedes["subscribe"]>[1];

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3); aedes declares them as a const enum we cannot import. */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

/**
 * The built-in aedes broker, for when no external broker is configured: devices and the simulator
 * publish to it, and the gateway takes their messages in-process. A second, loopback client
 * connection to ourselves would cost more than everything else on the ingest path.
 *
 * Listeners: plain TCP on broker.port and/or TLS on broker.tls.port (client certificates when
 * required). With broker.users, clients log in; broker.acl limits what each user may publish and
 * subscribe to. Hostile clients meet bounds (broker.maxPacketSize, maxConnections,
 * maxUnauthenticatedConnections, connectTimeout, retained), each refusal counted and logged.
 */
export class EmbeddedBroker implements BrokerLink {
  private broker: Aedes | null = null;
  private server: net.Server | null = null;
  private tlsServer: tls.Server | null = null;
  /** Who each connected client logged in as; kept beside aedes' Client, which has no such field. */
  private readonly usernames = new WeakMap<Client, string>();
  private readonly refusals: RateLimitedLog;
  /**
   * Client connections open, and those not yet accepted by a CONNACK, by their TCP endpoints: a
   * TLS connection is counted from its TCP connect, before the TLSSocket aedes gets exists.
   */
  private open = 0;
  private readonly unauthenticated = new Set<string>();
  private retained: RetainedBudget | null = null;
  readonly protocol = "embedded";
  /** Devices on the embedded broker speak MQTT 3.1.1 (aedes): replies go by the payload convention. */
  readonly responseTopicSupported = false;
  readonly replyTopic: string;

  constructor(
    private readonly config: GatewayConfig,
    private readonly logger: Logger,
    /** Where refusals are counted: the gateway's counters; a broker started alone counts apart. */
    private readonly counters: Pick<IngestCounters, "brokerRefusals"> = new IngestCounters(),
  ) {
    this.refusals = new RateLimitedLog(logger);
    this.replyTopic = replyTopicOf(config);
  }

  get connected(): boolean {
    return Boolean(this.server?.listening || this.tlsServer?.listening);
  }

  /** In-process: resolves once aedes has handed the message to its subscribers' queues. */
  publish(topic: string, payload: string, options: PublishOptions): Promise<void> {
    const broker = this.broker;
    if (!broker) return Promise.reject(new NotConnectedError(topic));
    return new Promise((resolve, reject) =>
      broker.publish(
        {
          cmd: "publish",
          topic,
          payload: Buffer.from(payload),
          qos: options.qos,
          retain: options.retain,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  /** The plain listener's port (the configured one, or the one the OS chose for port 0); 0 without. */
  get port(): number {
    return (this.server?.address() as net.AddressInfo | null)?.port ?? 0;
  }

  /** The TLS listener's port; 0 without. */
  get tlsPort(): number {
    return (this.tlsServer?.address() as net.AddressInfo | null)?.port ?? 0;
  }

  async start(handlers: SourceHandlers): Promise<void> {
    const b = this.config.broker;
    // Certificates and keys are read before anything listens: a bad file stops start-up, named.
    const tlsOptions = b.tls.enabled ? loadBrokerTls(b) : null;
    const auth = new BrokerAuth(b.users, b.acl);
    this.retained = new RetainedBudget(b.retained);
    // drainTimeout: a subscriber that stops reading is dropped, not allowed to stall everyone.
    this.broker = await Aedes.createBroker({
      drainTimeout: 30_000,
      concurrency: 1000,
      connectTimeout: b.connectTimeout,
      ...this.guards(auth),
    });
    const broker = this.broker;
    const accept = (socket: net.Socket) => this.accept(broker, socket);
    // noDelay: MQTT packets are small and answer one another (PUBLISH, PUBREC, PUBREL, a reply);
    // with Nagle's algorithm on, a command's round trip waited ~40 ms for delayed ACKs.
    if (b.plainListener)
      this.server = await listen(
        net.createServer({ noDelay: true }, (socket) => this.admit(socket) && accept(socket)),
        b.host,
        b.port,
        "broker.port",
      );
    if (tlsOptions) {
      // An unfinished handshake gets no longer than an unfinished CONNECT (Node's default: 120 s).
      const server = tls.createServer(
        { ...tlsOptions, noDelay: true, handshakeTimeout: b.connectTimeout },
        accept,
      );
      // The caps apply from the TCP connect: handshakes cost memory too.
      server.on("connection", (socket: net.Socket) => this.admit(socket));
      // A failed handshake (no client certificate, an unknown CA, an old TLS version) never
      // reaches aedes: this is the only place it shows.
      server.on("tlsClientError", (err: NodeJS.ErrnoException, socket) => {
        // With a listener here Node leaves the socket open, even after its handshake timeout.
        socket.destroy();
        if (err.code === "ERR_TLS_HANDSHAKE_TIMEOUT")
          this.refuse(
            "connectTimeout",
            "MQTT connection closed: no TLS handshake within broker.connectTimeout",
            {
              remote: socket.remoteAddress,
              connectTimeoutMs: b.connectTimeout,
            },
          );
        else
          this.refusals.warn("tls", "TLS handshake with an MQTT client failed", {
            remote: socket.remoteAddress,
            reason: err.code ?? err.message,
          });
      });
      this.tlsServer = await listen(server, b.host, b.tls.port, "broker.tls.port");
    }
    broker.on("clientError", (client, err) =>
      this.logger.debug("client error", { client: client.id, error: err.message }),
    );
    broker.on("clientReady", (client) => this.unauthenticated.delete(endpoints(client.conn as net.Socket)));
    // Before CONNECT a client has no id, and aedes reports its errors here; this text is the only
    // sign of its connect timer (aedes lib/client.js).
    broker.on("connectionError", (client, err) => {
      if (err.message === "connect did not arrive in time")
        this.refuse("connectTimeout", "MQTT connection closed: no CONNECT within broker.connectTimeout", {
          remote: (client.conn as net.Socket).remoteAddress,
          connectTimeoutMs: b.connectTimeout,
        });
    });
    for (const { topic } of this.config.mqtt.subscriptions) {
      const deliver: Deliver = (packet, cb) => {
        handlers.message(packet.topic, packet.payload as Uint8Array);
        cb();
      };
      await new Promise<void>((resolve) => broker.subscribe(topic, deliver, () => resolve()));
    }
    const replies: Deliver = (packet, cb) => {
      handlers.reply(packet.topic, packet.payload as Uint8Array);
      cb();
    };
    await new Promise<void>((resolve) =>
      broker.subscribe(replySubscriptionOf(this.replyTopic), replies, () => resolve()),
    );
    this.logger.info("embedded MQTT broker listening", {
      host: b.host,
      port: this.port || "off",
      tlsPort: this.tlsPort || "off",
      clientCertificates: tlsOptions ? b.tls.requireClientCertificate : false,
      users: b.users.length,
      aclUsers: Object.keys(b.acl).length,
    });
    // The open default is what the quick start needs, but it lets any client forge data and
    // answers and publish commands past every OPC UA role: say so at every start.
    if (!auth.required)
      this.logger.warn(
        "the embedded broker takes anonymous clients: whoever reaches it can publish data, read and publish commands and answer them; set broker.users and broker.acl",
        { host: b.host },
      );
    else if (Object.keys(b.acl).length === 0)
      this.logger.warn(
        "broker.acl is empty: every logged-in client can read and publish commands and answer for any device",
        { users: b.users.length },
      );
    if (this.server && auth.required && !isLoopback(b.host))
      this.logger.warn(
        "broker passwords may arrive unencrypted on the plain listener; consider broker.plainListener false",
        {
          host: b.host,
          port: this.port,
        },
      );
    handlers.connected(false);
  }

  /**
   * A new TCP connection: closed at once beyond broker.maxConnections or
   * broker.maxUnauthenticatedConnections, else counted until it closes. True when admitted.
   */
  private admit(socket: net.Socket): boolean {
    const b = this.config.broker;
    const remote = socket.remoteAddress;
    if (this.open >= b.maxConnections || this.unauthenticated.size >= b.maxUnauthenticatedConnections) {
      const full = this.open >= b.maxConnections;
      this.refuse(
        full ? "tooManyConnections" : "tooManyUnauthenticated",
        full
          ? "MQTT connection refused: broker.maxConnections reached"
          : "MQTT connection refused: broker.maxUnauthenticatedConnections reached",
        { remote, limit: full ? b.maxConnections : b.maxUnauthenticatedConnections },
      );
      socket.destroy();
      return false;
    }
    // Taken now: a closed socket no longer knows its endpoints.
    const key = endpoints(socket);
    this.open++;
    this.unauthenticated.add(key);
    socket.once("close", () => {
      this.open--;
      this.unauthenticated.delete(key);
    });
    return true;
  }

  /**
   * An admitted connection (after its TLS handshake, on the TLS listener), handed to aedes behind
   * a PacketScanner that closes it on a packet beyond broker.maxPacketSize or a string (topic,
   * filter, client id) that is not well-formed UTF-8.
   */
  private accept(broker: Aedes, socket: net.Socket): void {
    const b = this.config.broker;
    const remote = socket.remoteAddress;
    const scanner = new PacketScanner(b.maxPacketSize);
    // aedes pulls every batch with conn.read() when the socket is readable: the scanner sees each
    // batch there, before mqtt-packet, and a refused one never reaches it. No stream in between,
    // no copy; one call per batch, not per packet.
    const read = socket.read.bind(socket);
    socket.read = (size?: number) => {
      const chunk: Buffer | null = read(size);
      const refusal = chunk && scanner.scan(chunk);
      if (!refusal) return chunk;
      if (refusal.reason === "packetTooLarge")
        this.refuse("packetTooLarge", "MQTT connection closed: packet larger than broker.maxPacketSize", {
          remote,
          size: refusal.size,
          maxPacketSize: b.maxPacketSize,
        });
      else
        this.refuse("invalidUtf8", `MQTT connection closed: ${refusal.field} is not well-formed UTF-8`, {
          remote,
          field: refusal.field,
          problem: refusal.problem,
        });
      socket.destroy();
      return null;
    };
    broker.handle(socket);
  }

  /** Counts a refusal and logs it, at most a few lines a minute per reason. */
  private refuse(reason: BrokerRefusal, message: string, meta: Record<string, unknown>): void {
    this.counters.brokerRefusals.set(reason, (this.counters.brokerRefusals.get(reason) ?? 0) + 1);
    this.refusals.warn(reason, message, meta);
  }

  /**
   * A retained PUBLISH beyond broker.retained is handled as one without the RETAIN flag: delivered
   * to the subscribers of the moment, the retained store untouched. The connection stays open
   * (README, Security, says why this differs from mosquitto).
   */
  private budgetRetained(
    client: Client | null,
    packet: { topic: string; payload: Buffer | string; retain: boolean },
  ): void {
    const owner = client?.id ?? "(will)";
    if (this.retained!.admit(packet.topic, owner, Buffer.byteLength(packet.payload))) return;
    packet.retain = false;
    this.refuse("retainedLimit", "MQTT retained message not retained: broker.retained bounds reached", {
      client: owner,
      topic: packet.topic,
      retained: this.retained!.usage,
    });
  }

  /** aedes hooks: log-in against broker.users, publish and subscribe against broker.acl. */
  private guards(
    auth: BrokerAuth,
  ): Pick<AedesOptions, "authenticate" | "authorizePublish" | "authorizeSubscribe"> {
    return {
      authenticate: (client, username, password, done) => {
        void auth.authenticate(username, password).then((ok) => {
          if (ok) {
            if (username) this.usernames.set(client, username);
            return done(null, true);
          }
          const anonymous = !username || !password;
          // The username is logged to tell a typo from an attack; the password never is.
          this.refusals.warn(`login:${username ?? ""}`, "MQTT client refused: bad username or password", {
            client: client.id,
            username: username ?? "(none)",
          });
          const error = new Error(
            anonymous ? "not authorized" : "bad username or password",
          ) as AuthenticateError;
          error.returnCode = anonymous ? NOT_AUTHORIZED : BAD_USERNAME_OR_PASSWORD;
          done(error, false);
        });
      },
      authorizePublish: (client, packet, done) => {
        // aedes' own rule, which a custom hook replaces: $SYS is the broker's (aedes #597).
        if (packet.topic.startsWith("$SYS/")) return done(new Error("$SYS/ topic is reserved"));
        // A null client is a will published after its client went away; it was checked at CONNECT.
        const allowed = client === null || auth.mayPublish(this.usernames.get(client), packet.topic);
        if (allowed) {
          if (packet.retain) this.budgetRetained(client, packet);
          return done(null);
        }
        const username = this.usernames.get(client!);
        // MQTT 3.1.1 cannot refuse one PUBLISH: aedes closes the connection on this error.
        this.refusals.warn(`publish:${username ?? ""}`, "MQTT publish outside the client's ACL refused", {
          client: client.id,
          username: username ?? "(none)",
          topic: packet.topic,
        });
        done(new Error("publish not authorized"));
      },
      authorizeSubscribe: (client, sub, done) => {
        const username = this.usernames.get(client);
        if (auth.maySubscribe(username, sub.topic)) return done(null, sub);
        this.refusals.warn(
          `subscribe:${username ?? ""}`,
          "MQTT subscription outside the client's ACL refused",
          {
            client: client.id,
            username: username ?? "(none)",
            topic: sub.topic,
          },
        );
        // null grants nothing: the SUBACK says 0x80 (failure) for this filter [MQTT-3.9.3].
        done(null, null);
      },
    };
  }

  async stop(): Promise<void> {
    const { broker, server, tlsServer } = this;
    this.broker = null;
    this.server = null;
    this.tlsServer = null;
    // The broker first: it closes its client connections, which server.close() would wait for.
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const s of [server, tlsServer])
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** A TCP connection's endpoints, the same for a TLSSocket as for the socket beneath it. */
function endpoints(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localPort}`;
}

async function listen<S extends net.Server>(server: S, host: string, port: number, key: string): Promise<S> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(listenError(key, host, port, err)));
    server.listen(port, host, () => resolve());
  });
  return server;
}
