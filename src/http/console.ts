import type http from "node:http";
import { isLoopback } from "../config/check-security.js";
import type { GatewayConfig } from "../config/config-types.js";
import { satisfies } from "../security/role-names.js";
import type { UserDef } from "../security/users.js";
import type { Logger } from "../shared/logger.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";
import { CONSOLE_CSS, CONSOLE_ICON, CONSOLE_JS } from "./console-assets.js";
import { ConsoleAuth, type ConsoleSession, sameToken } from "./console-auth.js";
import {
  alarmsPage,
  certificatesPage,
  devicesPage,
  loginPage,
  messagePage,
  overviewPage,
} from "./console-pages.js";
import type { ConsolePoint, ConsoleSources, PkiKind } from "./console-port.js";

type Request = http.IncomingMessage;
type Response = http.ServerResponse;

const COOKIE = "smartgear_console";
/** A form posted to the console is a few fields: anything larger is refused unread. */
const MAX_FORM_BYTES = 8 * 1024;
/** A certificate's SHA-1 thumbprint or a prefix of it, as `pki list` shows it (colons allowed). */
const THUMBPRINT = /^[0-9a-f:]{4,59}$/i;
/** Devices listed in the tree at most; a larger lineup says how many more there are. */
const MAX_TREE_DEVICES = 2000;
/** Live streams open at once (each reads one device's points four times a second). */
const MAX_STREAMS = 32;
/** 4 updates a second: what a person reads, and a fixed cost whatever the message rate. */
const STREAM_INTERVAL_MS = 250;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

/** Why the console is not served on this listener, or null when it may be. */
export function consoleRefusal(config: GatewayConfig["http"]): string | null {
  const c = config.console;
  if (!c.enabled) return "http.console.enabled is false";
  if (!isLoopback(config.host) && !c.tls.enabled && !c.allowPlainHttp)
    return `http.host ${config.host} is not loopback and http.console.tls.enabled is false: passwords and session cookies would cross the network in clear; set http.console.tls.enabled, or http.console.allowPlainHttp when a TLS proxy is in front`;
  return null;
}

/**
 * The web console (README, Web console) under /console on the gateway's HTTP listener: a login,
 * four server-rendered pages and a stream of live values. Observers read; changes (trust and
 * reject a certificate) need the Engineer role, a session and its CSRF token, and a same-origin
 * request.
 */
export class WebConsole {
  readonly auth: ConsoleAuth;
  private readonly streams = new Set<Response>();
  private readonly failures: RateLimitedLog;

  constructor(
    private readonly config: GatewayConfig["http"]["console"],
    users: readonly UserDef[],
    private readonly sources: ConsoleSources,
    private readonly logger: Logger,
  ) {
    this.auth = new ConsoleAuth(
      users,
      config.sessionIdleMinutes * 60_000,
      config.loginAttemptsPerMinute,
      logger,
    );
    this.failures = new RateLimitedLog(logger, 5, 60_000);
  }

  /** Ends the live streams (the listener's close waits for no one). */
  stop(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  /** Answers a request under /console. */
  async handle(req: Request, res: Response, path: string, query: URLSearchParams): Promise<void> {
    if (path === "/console/assets/console.css") return asset(res, "text/css", CONSOLE_CSS);
    if (path === "/console/assets/console.js") return asset(res, "text/javascript", CONSOLE_JS);
    if (path === "/console/assets/icon.svg") return asset(res, "image/svg+xml", CONSOLE_ICON);
    if (req.method === "POST") return this.post(req, res, path);
    if (req.method !== "GET" && req.method !== "HEAD")
      return html(res, 405, messagePage(null, "Not allowed", "GET or POST only."), {
        allow: "GET, HEAD, POST",
      });
    if (path === "/console/login") return html(res, 200, loginPage(""));
    const session = this.auth.session(cookie(req));
    if (!session) {
      if (path === "/console/events") return html(res, 401, "");
      return redirect(res, "/console/login");
    }
    switch (path) {
      case "/console":
      case "/console/":
        return redirect(res, "/console/overview");
      case "/console/overview":
        return html(res, 200, overviewPage(session, this.sources.overview()));
      case "/console/devices":
        return this.devices(res, session, query.get("node"));
      case "/console/certificates":
        return html(res, 200, certificatesPage(session, this.sources.certificates()));
      case "/console/alarms":
        return html(res, 200, alarmsPage(session, this.sources.alarms()));
      case "/console/events":
        return this.stream(req, res, session, query.get("node") ?? "");
      default:
        return html(res, 404, messagePage(session, "Not found", `No page ${path}.`));
    }
  }

  private devices(res: Response, session: ConsoleSession, node: string | null): void {
    const list = this.sources.devices(MAX_TREE_DEVICES);
    const device = node ? list.devices.find((d) => d.nodeId === node) : undefined;
    const points = device ? this.sources.points(device.nodeId) : null;
    html(
      res,
      node && !points ? 404 : 200,
      devicesPage(session, list, device && points ? { device, points } : null),
    );
  }

  private async post(req: Request, res: Response, path: string): Promise<void> {
    // A form posted from another site's page: refused before anything is read (SameSite=Strict
    // keeps the cookie off it already; this also covers the login form, which has no session yet).
    if (!sameOrigin(req))
      return this.refuse(req, res, 403, null, "The request did not come from this console.");
    const form = await readForm(req);
    if (!form) return html(res, 413, messagePage(null, "Too large", "The form is too large."));
    if (path === "/console/login") return this.login(req, res, form);
    const session = this.auth.session(cookie(req));
    if (!session) return this.refuse(req, res, 401, null, "Log in first.");
    if (!sameToken(form.get("csrf") ?? "", session.csrf))
      return this.refuse(req, res, 403, session, "The form carried no valid CSRF token; reload the page.");
    if (path === "/console/logout") {
      this.auth.logout(session);
      return redirect(res, "/console/login", { "set-cookie": `${COOKIE}=; Path=/console; Max-Age=0` });
    }
    const action = /^\/console\/certificates\/(trust|reject)$/.exec(path)?.[1] as
      | "trust"
      | "reject"
      | undefined;
    if (!action) return html(res, 404, messagePage(session, "Not found", `No action ${path}.`));
    if (!satisfies(session.roles, "Engineer"))
      return this.refuse(
        req,
        res,
        403,
        session,
        "Trusting and rejecting certificates needs the Engineer role.",
      );
    const kind = form.get("kind");
    if (kind !== "applications" && kind !== "users")
      return html(res, 400, messagePage(session, "Bad request", "kind must be applications or users."));
    const thumbprint = form.get("thumbprint") ?? "";
    // A thumbprint (or a unique prefix), nothing else: `pki trust` also takes a file path, a form must not.
    if (!THUMBPRINT.test(thumbprint))
      return html(
        res,
        400,
        messagePage(session, "Bad request", "thumbprint must be hexadecimal SHA-1 digits."),
      );
    return this.decide(res, session, kind, action, thumbprint);
  }

  private decide(
    res: Response,
    session: ConsoleSession,
    kind: PkiKind,
    action: "trust" | "reject",
    thumbprint: string,
  ): void {
    let notice: string;
    let status = 200;
    try {
      const entry = this.sources.decide(kind, action, thumbprint);
      notice = `${action === "trust" ? "Trusted" : "Rejected"} ${entry.subject} (${entry.thumbprint}).`;
      // Who changed what the server accepts: the same line as the audit log of a command.
      this.logger.info(`console: certificate ${action === "trust" ? "trusted" : "rejected"}`, {
        username: session.user,
        kind,
        thumbprint: entry.thumbprint,
        subject: entry.subject,
        applicationUri: entry.applicationUri,
      });
    } catch (err) {
      notice = (err as Error).message;
      status = 404;
    }
    html(res, status, certificatesPage(session, this.sources.certificates(), notice));
  }

  private async login(req: Request, res: Response, form: URLSearchParams): Promise<void> {
    const username = form.get("username") ?? "";
    const outcome = await this.auth.login(
      username,
      form.get("password") ?? "",
      req.socket.remoteAddress ?? "",
    );
    if (outcome === "rateLimited")
      return html(res, 429, loginPage("Too many failed logins from this address; wait a minute.", username), {
        "retry-after": "60",
      });
    if (outcome === "refused") return html(res, 401, loginPage("Wrong user name or password.", username));
    const secure = this.config.tls.enabled ? "; Secure" : "";
    redirect(res, "/console/overview", {
      "set-cookie": `${COOKIE}=${outcome.id}; Path=/console; HttpOnly; SameSite=Strict${secure}`,
    });
  }

  /** A refused change: answered, counted in the log (rate-limited per address and reason). */
  private refuse(
    req: Request,
    res: Response,
    status: number,
    session: ConsoleSession | null,
    why: string,
  ): void {
    const address = req.socket.remoteAddress ?? "";
    this.failures.warn(`${address} ${why}`, "console request refused", {
      address,
      path: req.url,
      status,
      username: session?.user ?? "",
      reason: why,
    });
    html(res, status, messagePage(session, status === 401 ? "Not logged in" : "Refused", why));
  }

  /**
   * Server-sent events: the points of one device that changed, at most every STREAM_INTERVAL_MS,
   * read from the address space as a snapshot (the message path does not know the page exists).
   */
  private stream(req: Request, res: Response, session: ConsoleSession, node: string): void {
    if (this.streams.size >= MAX_STREAMS) {
      html(res, 503, "", { "retry-after": "5" });
      return;
    }
    if (!this.sources.points(node)) {
      html(res, 404, "");
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    res.write("retry: 2000\n\n");
    this.streams.add(res);
    const sent = new Map<string, string>();
    let quietSince = Date.now();
    const tick = () => {
      let points: ConsolePoint[] | null;
      try {
        points = this.auth.isOpen(session) ? this.sources.points(node) : null;
      } catch (err) {
        // A timer's exception would end the process: the stream ends instead, and the page reconnects.
        this.failures.error("stream", "console stream failed", { node, error: (err as Error).message });
        points = null;
      }
      if (!points) {
        res.end();
        return;
      }
      const changed: ConsolePoint[] = [];
      for (const p of points) {
        const line = `${p.value}\u0000${p.status}\u0000${p.sourceTimestamp}`;
        if (sent.get(p.nodeId) === line) continue;
        sent.set(p.nodeId, line);
        changed.push(p);
      }
      const now = Date.now();
      if (changed.length > 0) {
        res.write(`event: points\ndata: ${JSON.stringify(changed)}\n\n`);
        quietSince = now;
      } else if (now - quietSince >= KEEPALIVE_MS) {
        res.write(": keep-alive\n\n");
        quietSince = now;
      }
    };
    tick();
    const timer = setInterval(tick, STREAM_INTERVAL_MS);
    timer.unref();
    res.on("close", () => {
      clearInterval(timer);
      this.streams.delete(res);
    });
    req.on("error", () => res.end());
  }
}

/** The session cookie's value, if the request carries one. */
function cookie(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === COOKIE) return value.join("=");
  }
  return undefined;
}

/**
 * A POST from a page of this console: its Origin (or, lacking one, its Referer) names the host
 * the request was sent to. A browser always sends Origin on a cross-site POST.
 */
function sameOrigin(req: Request): boolean {
  const from = req.headers.origin ?? req.headers.referer;
  if (!from) return false;
  try {
    return new URL(from).host === req.headers.host;
  } catch {
    return false;
  }
}

/** An application/x-www-form-urlencoded body, or null when larger than MAX_FORM_BYTES. */
async function readForm(req: Request): Promise<URLSearchParams | null> {
  if (Number(req.headers["content-length"] ?? 0) > MAX_FORM_BYTES) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** Headers of every page: nothing from elsewhere runs, nothing frames it, nothing is cached. */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

function html(res: Response, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...PAGE_HEADERS,
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function redirect(res: Response, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { ...PAGE_HEADERS, location, ...headers });
  res.end();
}

function asset(res: Response, type: string, body: string): void {
  res.writeHead(200, {
    "content-type": `${type}; charset=utf-8`,
    "content-length": Buffer.byteLength(body),
    "x-content-type-options": "nosniff",
    "cache-control": "max-age=300",
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
