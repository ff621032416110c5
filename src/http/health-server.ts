import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { GatewayConfig } from "../config/config-types.js";
import { listenError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { WebConsole } from "./console.js";

/** What is ready: each part the gateway needs to do its job. */
export interface Readiness {
  /** Connected to the broker (the embedded broker: listening). */
  broker: boolean;
  /** The OPC UA server is listening. */
  opcua: boolean;
  /**
   * Working, but not all of it: what the broker refused, who took the session over. Ready all the
   * same (200): taking the gateway out of service would cut off the points that work, and a
   * restart fixes neither a broker ACL nor another client's id.
   */
  degraded?: Record<string, unknown>;
  /** Server/ServiceLevel (README, Redundancy): reported, never a reason to be not ready. */
  serviceLevel?: number;
}

export interface HealthSources {
  readiness(): Readiness;
  metrics(): Promise<{ contentType: string; body: string }>;
}

/**
 * `/healthz` (the process answers), `/readyz` (broker connected and OPC UA listening; 503 with
 * the part that is not; 200 "degraded" with what is wrong while still ready) and `/metrics` (Prometheus text format), on plain node:http
 * (node:https with http.console.tls). Nothing here changes state: every route is a GET (HEAD too);
 * the web console under /console (console.ts) has its own rules.
 */
export class HealthServer {
  private server: http.Server | https.Server | null = null;

  constructor(
    private readonly config: GatewayConfig["http"],
    private readonly sources: HealthSources,
    private readonly logger: Logger,
    /** The web console under /console (README, Web console); null: not served. */
    private readonly console: WebConsole | null = null,
  ) {}

  private get tls(): boolean {
    return this.config.console.tls.enabled;
  }

  /**
   * The certificate and key of the HTTPS listener (http.console.tls). Until it is given, TLS
   * handshakes fail: the gateway's own certificate exists only once the OPC UA server has made it.
   */
  useCertificate(cert: string | Buffer, key: string | Buffer): void {
    (this.server as https.Server | null)?.setSecureContext({ cert, key });
  }

  /** The port listened on (the one the OS chose for port 0); 0 when not listening. */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const listener: http.RequestListener = (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        this.logger.error("HTTP request failed", { url: req.url, error: err.message });
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error\n");
      });
    };
    const server = this.tls
      ? https.createServer({ minVersion: "TLSv1.2" }, listener)
      : http.createServer(listener);
    // A scraper keeps its connection open between scrapes; it must not hold up stop().
    server.keepAliveTimeout = 5000;
    const { port, host } = this.config;
    await new Promise<void>((resolve, reject) => {
      const refused = (err: Error) => reject(listenError("http.port", host, port, err));
      server.once("error", refused);
      server.listen(port, host, () => {
        server.off("error", refused);
        resolve();
      });
    });
    server.on("error", (err) => this.logger.error("HTTP server error", { error: err.message }));
    this.server = server;
    this.logger.info("health and metrics listening", {
      url: `${this.tls ? "https" : "http"}://${this.config.host}:${this.port}`,
      routes: this.routes,
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    this.console?.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private get routes(): string[] {
    return ["/healthz", "/readyz", "/metrics", ...(this.console ? ["/console"] : [])];
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const [path = "/", query = ""] = (req.url ?? "/").split("?");
    if (this.console && (path === "/console" || path.startsWith("/console/"))) {
      await this.console.handle(req, res, path, new URLSearchParams(query));
      return;
    }
    if (this.console && path === "/") {
      // A browser pointed at the listener lands on the console.
      res.writeHead(303, { location: "/console" });
      res.end();
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, { error: "method not allowed" }, { allow: "GET, HEAD" });
      return;
    }
    switch (path) {
      case "/healthz":
        send(res, 200, { status: "ok" });
        return;
      case "/readyz": {
        const { degraded, serviceLevel, ...parts } = this.sources.readiness();
        const notReady = Object.entries(parts)
          .filter(([, ok]) => !ok)
          .map(([part]) => part);
        send(res, notReady.length === 0 ? 200 : 503, {
          status: notReady.length > 0 ? "not ready" : degraded ? "degraded" : "ready",
          ...parts,
          ...(serviceLevel !== undefined ? { serviceLevel } : {}),
          ...(notReady.length > 0 ? { notReady } : {}),
          ...(degraded ? { degraded } : {}),
        });
        return;
      }
      case "/metrics": {
        const { contentType, body } = await this.sources.metrics();
        res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : body);
        return;
      }
      default:
        send(res, 404, { error: "not found", routes: this.routes });
    }
  }
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : text);
}
