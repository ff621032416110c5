/**
 * The bench's side of its child processes: forking them with an IPC channel, waiting for their
 * messages with a deadline, collecting their samples, and making sure that every process the bench
 * started is gone when it exits, however it exits.
 */
import { type ChildProcess, fork, type SpawnOptions, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Msg } from "./common.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const MAX_SAMPLES = 20_000;

export interface Sample {
  t: number;
  count: number;
  elu: number;
  cpuMs: number;
  [key: string]: unknown;
}

/**
 * Every process a bench run started, so that none outlives it: the run holds one (in its context)
 * and starts its processes through it.
 */
export class BenchProcesses {
  private readonly running = new Set<ChildProcess>();
  private readonly live = new Set<Child>();
  private readonly cleanups: (() => void)[] = [];

  /** Kills every started process on exit, Ctrl-C, SIGTERM or a crash. */
  installCleanup(): void {
    const killAll = () => {
      for (const p of this.running) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      this.running.clear();
      for (const fn of this.cleanups.splice(0)) {
        try {
          fn();
        } catch {
          // best effort: we are leaving
        }
      }
    };
    process.on("exit", killAll);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
      process.on(signal, () => {
        process.stderr.write(`\nbench: ${signal}, stopping every child process\n`);
        killAll();
        process.exit(130);
      });
  }

  /** Runs `fn` (synchronous) when the bench exits, whatever the reason. */
  onExit(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Starts a non-node program (mosquitto) and tracks it for cleanup. */
  spawn(cmd: string, args: string[], options: SpawnOptions): ChildProcess {
    return this.track(spawn(cmd, args, options));
  }

  /** Forks scripts/bench/<script>.ts with `--key value` arguments and an IPC channel, and tracks it. */
  fork(name: string, script: string, args: Record<string, string | number>, execArgv: string[] = []): Child {
    const argv = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
    const proc = this.track(
      fork(join(HERE, `${script}.ts`), argv, {
        execArgv: [...execArgv, "--import", "tsx"],
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        serialization: "json",
      }),
    );
    const child = new Child(name, proc);
    this.live.add(child);
    proc.once("exit", () => this.live.delete(child));
    return child;
  }

  /** Stops every bench child still running, politely first (bounded). */
  async stopAll(timeoutMs = 10_000): Promise<void> {
    await Promise.all([...this.live].map((c) => c.stop(timeoutMs)));
  }

  private track(proc: ChildProcess): ChildProcess {
    this.running.add(proc);
    proc.once("exit", () => this.running.delete(proc));
    return proc;
  }
}

/** A forked bench child (scripts/bench/<script>.ts), spoken to over IPC. */
export class Child {
  readonly samples: Sample[] = [];
  private nextId = 1;
  private readonly waiters = new Set<{
    match: (m: Msg) => boolean;
    resolve: (m: Msg) => void;
    reject: (e: Error) => void;
  }>();
  private exitError: Error | null = null;

  /** Started by BenchProcesses.fork, which tracks the process. */
  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    // Children's output goes to stderr, prefixed: stdout is the bench's table and JSON.
    const forward = (chunk: Buffer) => {
      for (const line of String(chunk).split("\n"))
        if (line.trim()) process.stderr.write(`[${name}] ${line}\n`);
    };
    this.proc.stdout?.on("data", forward);
    this.proc.stderr?.on("data", forward);
    this.proc.on("message", (raw) => this.onMessage(raw as Msg));
    this.proc.once("exit", (code, signal) => {
      this.exitError ??= new Error(`${name} exited (code ${code}, signal ${signal})`);
      for (const w of this.waiters) w.reject(this.exitError);
      this.waiters.clear();
    });
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  private onMessage(msg: Msg): void {
    if (msg.type === "sample") {
      if (this.samples.length < MAX_SAMPLES) this.samples.push(msg as unknown as Sample);
      return;
    }
    if (msg.type === "fatal") {
      this.exitError = new Error(String(msg.message));
      process.stderr.write(`[${this.name}] FATAL ${String(msg.message)}\n`);
      for (const w of this.waiters) w.reject(this.exitError);
      this.waiters.clear();
      return;
    }
    for (const w of this.waiters)
      if (w.match(msg)) {
        this.waiters.delete(w);
        w.resolve(msg);
        return;
      }
  }

  /** The next message for which `match` holds, or an error after `timeoutMs` or if the child dies. */
  waitFor(match: (m: Msg) => boolean, timeoutMs: number, what: string): Promise<Msg> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: Msg) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  ready(timeoutMs = 60_000): Promise<Msg> {
    return this.waitFor((m) => m.type === "ready", timeoutMs, "ready message");
  }

  /** Sends a request and waits for the reply carrying its id. */
  request(msg: Msg, timeoutMs: number): Promise<Msg> {
    const id = this.nextId++;
    const reply = this.waitFor((m) => m.id === id, timeoutMs, `reply to ${msg.type}`);
    this.proc.send({ ...msg, id });
    return reply;
  }

  /** Asks the child to stop, then kills it if it has not within `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
    try {
      this.proc.send({ type: "stop" });
    } catch {
      // channel already closed
    }
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

const CLK_TCK = 100;
/**
 * CPU time (ms) a process has used so far, or one thread of it (`tid`), from /proc; null where
 * there is no /proc.
 */
export function cpuMsOf(pid: number, tid?: number): number | null {
  try {
    const stat = readFileSync(
      tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`,
      "utf8",
    );
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** The whole machine's CPU time so far (ms, all cores): busy, and busy + idle. From /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy: (busy * 1000) / CLK_TCK, total: ((busy + idle + iowait) * 1000) / CLK_TCK };
  } catch {
    return null;
  }
}
