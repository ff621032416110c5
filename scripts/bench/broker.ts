/**
 * The bench's broker, in a process of its own on a free loopback port: Debian's mosquitto when it
 * is installed (a generated configuration, no persistence), else aedes in a forked child.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchProcesses } from "./children.js";

export interface BenchBroker {
  kind: "mosquitto" | "aedes";
  version: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"];

export function findMosquitto(): string | undefined {
  return MOSQUITTO.find((p) => existsSync(p));
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = net.connect(port, "127.0.0.1", () => {
      c.destroy();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });

export async function startBroker(
  prefer: "auto" | "mosquitto" | "aedes",
  processes: BenchProcesses,
): Promise<BenchBroker> {
  const binary = prefer === "aedes" ? undefined : findMosquitto();
  if (prefer === "mosquitto" && !binary) throw new Error("--broker mosquitto: mosquitto is not installed");
  return binary ? startMosquitto(binary, processes) : startAedes(processes);
}

async function startMosquitto(binary: string, processes: BenchProcesses): Promise<BenchBroker> {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-bench-mosquitto-"));
  processes.onExit(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence false",
      "max_queued_messages 100000",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "",
    ].join("\n"),
  );
  let version = "unknown";
  try {
    version = execFileSync(binary, ["-h"], { encoding: "utf8" }).split("\n")[0] ?? version;
  } catch (err) {
    // mosquitto -h exits 3 after printing its version
    version = String((err as { stdout?: string }).stdout ?? "").split("\n")[0] || version;
  }
  const proc = processes.spawn(binary, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (d) => {
    stderr += String(d);
    if (stderr.length > 10_000) stderr = stderr.slice(-5_000);
  });
  const deadline = Date.now() + 5000;
  while (!(await canConnect(port))) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill("SIGKILL");
      throw new Error(`mosquitto did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    kind: "mosquitto",
    version: version.replace(/^mosquitto version /, ""),
    url: `mqtt://127.0.0.1:${port}`,
    pid: proc.pid ?? 0,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startAedes(processes: BenchProcesses): Promise<BenchBroker> {
  const child = processes.fork("aedes", "aedes-broker", {});
  const ready = await child.ready(20_000);
  return {
    kind: "aedes",
    version: "",
    url: `mqtt://127.0.0.1:${ready.port}`,
    pid: child.pid,
    stop: () => child.stop(),
  };
}
