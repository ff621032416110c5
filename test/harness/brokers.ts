import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aedes } from "aedes";
import mqtt, { type IClientOptions, type IClientPublishOptions } from "mqtt";
import { toolPath } from "./tools.js";

export interface TestBroker {
  url: string;
  port: number;
  /** Closes the listener and every client connection: the gateway sees the broker go away. */
  pause(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** A real aedes broker (MQTT 3.1.1 only) on a free loopback port. */
export async function startAedes(port = 0): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  let server = net.createServer(broker.handle);
  const sockets = new Set<net.Socket>();
  const track = (s: net.Server) =>
    s.on("connection", (c) => {
      sockets.add(c);
      c.on("close", () => sockets.delete(c));
    });
  track(server);
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const actual = (server.address() as net.AddressInfo).port;
  const closeServer = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    pause: closeServer,
    async resume() {
      server = net.createServer(broker.handle);
      track(server);
      await new Promise<void>((r) => server.listen(actual, "127.0.0.1", r));
    },
    async stop() {
      await closeServer();
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

/**
 * Publishes messages with a short-lived MQTT.js client and waits for each handshake; `options`
 * add credentials and TLS (ca, cert, key, passphrase) for a secured broker.
 */
export async function publish(
  url: string,
  messages: { topic: string; payload: string | Buffer; retain?: boolean; qos?: 0 | 1 | 2 }[],
  options: IClientOptions & { passphrase?: string } = {},
): Promise<void> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, ...options });
  try {
    for (const m of messages) {
      const opts: IClientPublishOptions = { qos: m.qos ?? 1, retain: m.retain ?? false };
      await client.publishAsync(m.topic, m.payload, opts);
    }
  } finally {
    await client.endAsync();
  }
}

/** A free loopback port, for programs that cannot be told to pick one (mosquitto). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** How startMosquitto secures its one listener. */
export interface MosquittoOptions {
  /** Lines for the listener (cafile, certfile, keyfile, require_certificate, tls_version). */
  listener?: string;
  /** Default true; false needs a password_file in `extraConfig`. */
  allowAnonymous?: boolean;
  /** The URL scheme the returned url carries; mqtts with a TLS listener. */
  scheme?: "mqtt" | "mqtts";
}

/**
 * Debian's mosquitto (MQTT 5), started on a free port with a config written for the test; its
 * listener may be TLS (`options.listener`) and its clients may have to log in. Tests that call it
 * take `needs("mosquitto")` (harness/tools.ts), which skips them where mosquitto is not installed.
 */
export async function startMosquitto(
  extraConfig = "",
  options: MosquittoOptions = {},
): Promise<TestBroker & { process: ChildProcess }> {
  const binary = toolPath("mosquitto");
  const dir = mkdtempSync(join(tmpdir(), "smartgear-mosquitto-"));
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  // Run as root, mosquitto drops to user `mosquitto`, who cannot read the test's private temp files.
  const asRoot = process.getuid?.() === 0 ? "user root\n" : "";
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\n${options.listener ?? ""}\nallow_anonymous ${options.allowAnonymous ?? true}\n` +
      `persistence false\n${asRoot}${extraConfig}\n`,
  );
  let proc: ChildProcess;
  const start = async () => {
    proc = spawn(binary, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr?.on("data", (d) => {
      stderr += String(d);
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      const ok = await new Promise<boolean>((r) => {
        const c = net.connect(port, "127.0.0.1", () => {
          c.destroy();
          r(true);
        });
        c.on("error", () => r(false));
      });
      if (ok) return;
      if (Date.now() > deadline || proc.exitCode !== null)
        throw new Error(`mosquitto did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stopProc = async () => {
    if (proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
  };
  await start();
  return {
    url: `${options.scheme ?? "mqtt"}://127.0.0.1:${port}`,
    port,
    get process() {
      return proc;
    },
    pause: stopProc,
    resume: start,
    async stop() {
      await stopProc();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A mosquitto password_file for `users` (name ⇒ password), written by Debian's mosquitto_passwd. */
export function mosquittoPasswordFile(file: string, users: Record<string, string>): string {
  let create = true;
  for (const [name, password] of Object.entries(users)) {
    execFileSync("mosquitto_passwd", ["-b", ...(create ? ["-c"] : []), file, name, password]);
    create = false;
  }
  return file;
}
