/** The bench's command line: its usage text, and the options of one run read from argv. */
import { parseArgs } from "node:util";

export const USAGE = `Usage: npm run bench -- [options]

  --quick                   smoke run (~30 s): 2,000 topics, rates 5000,20000, 3 s steps, 10k-point memory
  --rates <list>            comma-separated msg/s steps (default 10000,20000,35000,50000,65000,80000,100000,120000)
  --step-seconds <s>        duration of each rate step (default 8)
  --warmup-seconds <s>      start of each step left out of the judgement (default 1.5)
  --topics <n>              distinct topics published, on Double points of declared devices (default 10000)
  --payload plain|json      a plain number, or {"value": t, "ts": ms} (default plain)
  --qos 0|1                 publisher QoS (default 0)
  --publisher mqttjs|raw    client.publish() per message, or pre-encoded packets on the MQTT.js socket (default mqttjs)
  --publishing-interval <ms> OPC UA subscription publishing interval (default 100)
  --queue-size <n>          queueSize of the client's monitored items, samplingInterval 0 (default 1: the
                            newest value each publishing interval; n: every change, up to n an interval)
  --history on|off          the gateway's history store (default on, as the gateway ships; in a temporary folder)
  --latency-rate <msg/s>    the step whose latency is held against the target (default 20000)
  --broker auto|mosquitto|aedes  (default auto: mosquitto when installed)
  --memory-devices <n>      declared devices for the memory and start-up run (default 227: 100,334 points)
  --skip-bare | --skip-gateway | --skip-memory
  --profile                 write a CPU profile of the gateway process (node --cpu-prof) to .tmp/bench-profile/
  --out <file>              results file (default bench-results.json)
  --timeout <s>             abort the whole run after s seconds (default 1200)
  --help                    this text
`;

/** What one run measures and how; printed back in the results' `options`. */
export interface BenchOptions {
  quick: boolean;
  /** The ladder's rates (msg/s), ascending, the latency rate among them. */
  rates: number[];
  stepSeconds: number;
  warmupSeconds: number;
  topics: number;
  payload: "plain" | "json";
  qos: number;
  publisher: "mqttjs" | "raw";
  publishingInterval: number;
  queueSize: number;
  /** The gateway records every value in its history store (history.enabled). */
  history: boolean;
  latencyRate: number;
  broker: "auto" | "mosquitto" | "aedes";
  memoryDevices: number;
  skipBare: boolean;
  skipGateway: boolean;
  skipMemory: boolean;
  profile: boolean;
  out: string;
  timeoutS: number;
}

/** A command line the bench refuses: `text` goes to stderr and the process exits with 2. */
export class UsageError extends Error {
  constructor(readonly text: string) {
    super(text);
  }
}

/** The options of `argv` (without node and the script), or `help` when --help was given. */
export function parseOptions(argv: string[]): BenchOptions | "help" {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      rates: { type: "string" },
      "step-seconds": { type: "string" },
      "warmup-seconds": { type: "string" },
      topics: { type: "string" },
      payload: { type: "string", default: "plain" },
      qos: { type: "string", default: "0" },
      publisher: { type: "string", default: "mqttjs" },
      "publishing-interval": { type: "string", default: "100" },
      "queue-size": { type: "string", default: "1" },
      history: { type: "string", default: "on" },
      "latency-rate": { type: "string", default: "20000" },
      broker: { type: "string", default: "auto" },
      "memory-devices": { type: "string" },
      "skip-bare": { type: "boolean", default: false },
      "skip-gateway": { type: "boolean", default: false },
      "skip-memory": { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      out: { type: "string", default: "bench-results.json" },
      timeout: { type: "string", default: "1200" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (flags.help) return "help";

  const quick = flags.quick;
  const latencyRate = positive("latency-rate", flags["latency-rate"], 20_000);
  const opts: BenchOptions = {
    quick,
    rates: [
      ...new Set([
        ...(flags.rates ?? (quick ? "5000,20000" : "10000,20000,35000,50000,65000,80000,100000,120000"))
          .split(",")
          .map((r) => positive("rates", r.trim(), 0)),
        latencyRate,
      ]),
    ].sort((a, b) => a - b),
    stepSeconds: positive("step-seconds", flags["step-seconds"], quick ? 3 : 8),
    warmupSeconds: positive("warmup-seconds", flags["warmup-seconds"], quick ? 1 : 1.5),
    topics: Math.round(positive("topics", flags.topics, quick ? 2000 : 10_000)),
    payload: oneOf("payload", flags.payload, ["plain", "json"] as const),
    qos: Number(oneOf("qos", flags.qos, ["0", "1"] as const)),
    publisher: oneOf("publisher", flags.publisher, ["mqttjs", "raw"] as const),
    publishingInterval: positive("publishing-interval", flags["publishing-interval"], 100),
    queueSize: Math.round(positive("queue-size", flags["queue-size"], 1)),
    history: oneOf("history", flags.history, ["on", "off"] as const) === "on",
    latencyRate,
    broker: oneOf("broker", flags.broker, ["auto", "mosquitto", "aedes"] as const),
    memoryDevices: Math.round(positive("memory-devices", flags["memory-devices"], quick ? 23 : 227)),
    skipBare: flags["skip-bare"],
    skipGateway: flags["skip-gateway"],
    skipMemory: flags["skip-memory"],
    profile: flags.profile,
    out: flags.out,
    timeoutS: positive("timeout", flags.timeout, 1200),
  };
  if (opts.warmupSeconds >= opts.stepSeconds)
    throw new UsageError("--warmup-seconds must be shorter than --step-seconds\n");
  return opts;
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number, not ${raw}\n${USAGE}`);
  return n;
}

function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw))
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, not ${raw}\n`);
  return raw as T;
}
