import net from "node:net";
import { Aedes } from "aedes";
import type { GatewayConfig } from "../config/config-types.js";
import { GatewayError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { MessageSource, SourceHandlers } from "./message-source.js";

type Deliver = Parameters<Aedes["subscribe"]>[1];

/**
 * The built-in aedes broker, for when no external broker is configured: devices and the simulator
 * publish to it, and the gateway takes their messages in-process. A second, loopback client
 * connection to ourselves would cost more than everything else on the ingest path.
 */
export class EmbeddedBroker implements MessageSource {
  private broker: Aedes | null = null;
  private server: net.Server | null = null;
  readonly protocol = "embedded";

  constructor(
    private readonly config: GatewayConfig,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.server?.listening ?? false;
  }

  /** The port the broker listens on (the configured one, or the one the OS chose for port 0). */
  get port(): number {
    return (this.server?.address() as net.AddressInfo | null)?.port ?? 0;
  }

  async start(handlers: SourceHandlers): Promise<void> {
    const { host, port } = this.config.broker;
    // drainTimeout: a subscriber that stops reading is dropped, not allowed to stall everyone.
    this.broker = await Aedes.createBroker({ drainTimeout: 30_000, concurrency: 1000 });
    this.server = net.createServer(this.broker.handle);
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", (err) =>
        reject(
          new GatewayError("E_BROKER_LISTEN", `embedded broker cannot listen on ${host}:${port}`, {
            cause: err,
          }),
        ),
      );
      this.server!.listen(port, host, () => resolve());
    });
    this.broker.on("clientError", (client, err) =>
      this.logger.debug("client error", { client: client.id, error: err.message }),
    );
    for (const { topic } of this.config.mqtt.subscriptions) {
      const deliver: Deliver = (packet, cb) => {
        handlers.message(packet.topic, packet.payload as Uint8Array);
        cb();
      };
      await new Promise<void>((resolve) => this.broker!.subscribe(topic, deliver, () => resolve()));
    }
    this.logger.info("embedded MQTT broker listening", { host, port: this.port });
    handlers.connected();
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    const server = this.server;
    this.broker = null;
    this.server = null;
    // The broker first: it closes its client connections, which server.close() would wait for.
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
