/**
 * Publishes a live Sm@rtGear switchgear lineup to an MQTT broker: N breakers (`11/…` and `21/…`
 * under `<deviceType>/Feeder NN/<source>`) and, per breaker, a predictive-maintenance group
 * (`48/…/50/Group NN/PM`), with every point of the catalog. For trying the gateway and for load
 * tests; the value models live in lineup-model.ts.
 *
 *   npm run simulate -- --url mqtt://127.0.0.1:1883 --devices 10 --rate 2000
 *
 * Messages are spread evenly: each timer tick publishes the batch the target rate allows, taking
 * points round-robin, so every point is refreshed every (points × devices / rate) seconds.
 * The devices answer the gateway's commands, once per commandId (command-device.ts).
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from "mqtt";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { CommandDevice } from "./command-device.js";
import {
  alarmRules,
  type CompiledPoint,
  compilePoint,
  encodePayload,
  initLineup,
  type LineupState,
  mulberry32,
  type PublishClass,
  publishClass,
  SHAPES,
  type Shape,
  stepLineup,
  topicFor,
} from "./lineup-model.js";

const USAGE = `Usage: npm run simulate -- [options]

  --url <url>              broker URL (default mqtt://127.0.0.1:1883)
  --devices <n>            breakers in the lineup, each with its PM group (default 10)
  --rate <msg/s>           messages per second across the whole lineup (default 1000)
  --shape <shape>          plain | json | object | vals | mixed (default object)
  --qos <0|1>              QoS of measurements (default 0); alarms and retained status use 1
  --duration <s>           stop after s seconds (default: until Ctrl-C)
  --seq                    add a monotonically increasing "seq" to object payloads
  --username <user>        broker user name
  --password <password>    broker password
  --speed <x>              simulated seconds per real second (default 1; 60 shows alarms in minutes)
  --seed <n>               random seed: the same seed gives the same lineup (default: time)
  --device-type <type>     breaker device type (default 3WA)
  --source <source>        breaker device source (default ETU)
  --lineup <name>          lineup name published in 21/21 (default "Lineup A")
  --first-device <n>       number of the first feeder and group (default 1): a second lineup on
                           the same broker starts after the first one's (Feeder 05, Group 05, …)
  --client-id <id>         MQTT client id (default smartgear-sim-<random>)
  --protocol-version <4|5> MQTT 3.1.1 or 5 (default 4)
  --catalog <file>         data-model catalog (default config/catalog.yaml)
  --help                   this text
`;

const CONNECT_TIMEOUT_MS = 10_000;
const TICK_MS = 10;
const PHYSICS_MS = 250;
const SUMMARY_MS = 5_000;
/** Never catch up more than this much missed time: a stalled broker is reported, not flooded. */
const MAX_DEBT_S = 0.25;
/** Stop a batch while the socket holds this much unsent data (QoS 0 has no other back-pressure). */
const MAX_SOCKET_BACKLOG = 4 * 1024 * 1024;
const MAX_QOS1_IN_FLIGHT = 20_000;

interface Options {
  url: string;
  devices: number;
  rate: number;
  shape: Shape | "mixed";
  qos: 0 | 1;
  durationS: number | null;
  seq: boolean;
  username?: string;
  password?: string;
  speed: number;
  seed: number;
  deviceType: string;
  source: string;
  lineup: string;
  firstDevice: number;
  clientId: string;
  protocolVersion: 4 | 5;
  catalog?: string;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      url: { type: "string", default: "mqtt://127.0.0.1:1883" },
      devices: { type: "string", default: "10" },
      rate: { type: "string", default: "1000" },
      shape: { type: "string", default: "object" },
      qos: { type: "string", default: "0" },
      duration: { type: "string" },
      seq: { type: "boolean", default: false },
      username: { type: "string" },
      password: { type: "string" },
      speed: { type: "string", default: "1" },
      seed: { type: "string" },
      "device-type": { type: "string", default: "3WA" },
      source: { type: "string", default: "ETU" },
      lineup: { type: "string", default: "Lineup A" },
      "first-device": { type: "string", default: "1" },
      "client-id": { type: "string" },
      "protocol-version": { type: "string", default: "4" },
      catalog: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const num = (name: string, raw: string, min: number, integer = false): number => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
      throw new UsageError(`--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}, not '${raw}'`);
    return n;
  };
  const oneOf = <T extends string>(name: string, raw: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(raw))
      throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, not '${raw}'`);
    return raw as T;
  };
  const level = (name: string, raw: string) => {
    if (raw === "" || raw.includes("/") || raw.includes("+") || raw.includes("#"))
      throw new UsageError(`--${name} '${raw}' cannot be an MQTT topic level (no /, + or #)`);
    return raw;
  };
  const rate = num("rate", values.rate, 0.001);
  if (rate <= 0) throw new UsageError("--rate must be above 0");
  return {
    url: values.url,
    devices: num("devices", values.devices, 1, true),
    rate,
    shape: oneOf("shape", values.shape, [...SHAPES, "mixed"] as const),
    qos: Number(oneOf("qos", values.qos, ["0", "1"])) as 0 | 1,
    durationS: values.duration === undefined ? null : num("duration", values.duration, 0),
    seq: values.seq,
    username: values.username,
    password: values.password,
    speed: num("speed", values.speed, 0),
    seed: values.seed === undefined ? Date.now() % 2 ** 32 : num("seed", values.seed, 0, true),
    deviceType: level("device-type", values["device-type"]),
    source: level("source", values.source),
    lineup: values.lineup,
    firstDevice: num("first-device", values["first-device"], 1, true),
    clientId: values["client-id"] ?? `smartgear-sim-${Math.random().toString(16).slice(2, 10)}`,
    protocolVersion: Number(oneOf("protocol-version", values["protocol-version"], ["4", "5"])) as 4 | 5,
    catalog: values.catalog,
  };
}

const log = (line: string) => process.stderr.write(`simulate: ${line}\n`);

/** One (device, point) pair of the round-robin schedule. */
interface Entry {
  topic: string;
  feeder: number;
  compiled: CompiledPoint;
  cls: PublishClass;
}

async function main(argv: string[]): Promise<number> {
  let opts: Options;
  try {
    const parsed = parseOptions(argv);
    if (parsed === "help") {
      process.stdout.write(USAGE);
      return 0;
    }
    opts = parsed;
  } catch (err) {
    log((err as Error).message);
    process.stderr.write(USAGE);
    return 2;
  }

  // Listen from the start, so that Ctrl-C while connecting also ends the client cleanly.
  const stopRequested = new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });

  const catalog = loadCatalog(opts.catalog);
  const rules = alarmRules(catalog.points);
  const compiled = catalog.points.map((p) => compilePoint(p));
  const rng = mulberry32(opts.seed);
  let state: LineupState = initLineup(
    {
      lineupName: opts.lineup,
      deviceType: opts.deviceType,
      source: opts.source,
      groupType: "50",
      groupSource: "PM",
      firstDevice: opts.firstDevice,
      startMs: Date.now(),
    },
    opts.devices,
    rules,
    rng,
  );

  const entries: Entry[] = state.feeders.flatMap((f) =>
    compiled.map((c) => ({
      topic: topicFor(c.point, f, state.info),
      feeder: f.index,
      compiled: c,
      cls: publishClass(c.point),
    })),
  );
  const startup = entries.filter((e) => e.cls !== "measurement");
  const schedule = entries.filter((e) => e.cls !== "static");
  const alarmEntries = entries.filter((e) => e.compiled.point.alarm);
  const fallbacks = compiled.filter((c) => c.kind === "fallback").map((c) => c.point.topicId);
  log(
    `${opts.devices} breaker(s) + ${opts.devices} PM group(s), ${catalog.points.length} points each pair, ` +
      `${schedule.length} topics in rotation (each refreshed every ${(schedule.length / opts.rate).toFixed(1)} s), ` +
      `shape ${opts.shape}, seed ${opts.seed}` +
      (fallbacks.length > 0 ? `; generic values for unrecognised points ${fallbacks.join(", ")}` : ""),
  );

  // --- connect ------------------------------------------------------------------------------
  const clientOptions: IClientOptions = {
    clientId: opts.clientId,
    protocolVersion: opts.protocolVersion,
    clean: true,
    keepalive: 60,
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectPeriod: 1000,
    username: opts.username,
    password: opts.password,
    // While the broker is away, drop measurements rather than hoard them in memory.
    queueQoSZero: false,
  };
  const client: MqttClient = mqtt.connect(opts.url, clientOptions);
  // An object, not a `let`: TypeScript does not see assignments made inside callbacks.
  const lastError: { error?: Error } = {};
  let lastLoggedError = "";
  client.on("error", (err) => {
    lastError.error = err;
    if (err.message !== lastLoggedError && client.connected) log(`broker error: ${err.message}`);
    lastLoggedError = err.message;
  });

  const connecting = new Promise<true | string>((resolve) => {
    const timer = setTimeout(
      () => resolve(`cannot reach the broker at ${opts.url} within ${CONNECT_TIMEOUT_MS / 1000} s`),
      CONNECT_TIMEOUT_MS,
    );
    client.once("connect", () => {
      clearTimeout(timer);
      resolve(true);
    });
    // A refused CONNACK (bad credentials, not authorised) will not get better by waiting.
    client.on("error", (err) => {
      const code = (err as { code?: unknown }).code;
      if (typeof code === "number" && !client.connected) {
        clearTimeout(timer);
        resolve(`the broker at ${opts.url} refused the connection: ${err.message}`);
      }
    });
  });
  const connected = await Promise.race([connecting, stopRequested.then((signal) => ({ signal }))]);
  if (typeof connected === "object") {
    log(`${connected.signal} before the broker answered: stopping`);
    client.end(true);
    return 0;
  }
  if (connected !== true) {
    const cause = lastError.error?.message;
    log(`${connected}${cause && !connected.includes(cause) ? ` (${cause})` : ""}`);
    client.end(true);
    return 1;
  }
  log(`connected to ${opts.url} as ${opts.clientId}`);

  // --- publishing -----------------------------------------------------------------------------
  const shapes: readonly Shape[] = SHAPES;
  const QOS0: IClientPublishOptions = { qos: 0, retain: false };
  const QOS1: IClientPublishOptions = { qos: 1, retain: false };
  const RETAINED: IClientPublishOptions = { qos: 1, retain: true };
  let seq = 0;
  let pass = 0;
  let sent = 0;
  let inFlight = 0;
  let publishErrors = 0;
  const onAck = (err?: Error) => {
    inFlight--;
    if (err) publishErrors++;
  };

  /** `slot` picks the shape in mixed mode. */
  const send = (e: Entry, ts: string, slot: number) => {
    seq++;
    const shape = opts.shape === "mixed" ? (shapes[slot % shapes.length] as Shape) : opts.shape;
    const f = state.feeders[e.feeder]!;
    const payload = encodePayload(shape, {
      topicId: e.compiled.point.topicId,
      value: e.compiled.value(f, state),
      ts,
      seq: opts.seq || shape === "vals" ? seq : undefined,
    });
    const po = e.cls === "measurement" ? (opts.qos === 1 ? QOS1 : QOS0) : RETAINED;
    if (po.qos === 1) {
      inFlight++;
      client.publish(e.topic, payload, po, onAck);
    } else client.publish(e.topic, payload, po);
    sent++;
  };

  // Nameplate, settings, alarms and status first, retained, so that a gateway connecting later
  // sees the whole lineup at once. Again after a reconnection: a restarted broker without
  // persistence has forgotten them, as a device's birth messages.
  const publishStartup = () => {
    const ts = new Date().toISOString();
    for (const [i, e] of startup.entries()) send(e, ts, i);
  };
  publishStartup();
  await waitFor(() => inFlight === 0 || !client.connected, 30_000);
  log(`published ${startup.length} retained settings, alarms and status messages`);

  const socketBacklog = () => (client.stream as { writableLength?: number } | undefined)?.writableLength ?? 0;
  const congested = () => socketBacklog() > MAX_SOCKET_BACKLOG || inFlight >= MAX_QOS1_IN_FLIGHT;

  let cursor = 0;
  let budgetStart = performance.now();
  let budgetUsed = 0;
  let shortfall = 0;
  let alarmEdges = 0;
  const tick = () => {
    if (!client.connected) {
      budgetStart = performance.now();
      budgetUsed = 0;
      return;
    }
    let due = Math.floor((opts.rate * (performance.now() - budgetStart)) / 1000) - budgetUsed;
    const maxDebt = Math.max(1, Math.ceil(opts.rate * MAX_DEBT_S));
    if (due > maxDebt) {
      shortfall += due - maxDebt;
      budgetUsed += due - maxDebt;
      due = maxDebt;
    }
    const ts = new Date().toISOString();
    for (let i = 0; i < due; i++) {
      if ((i & 63) === 0 && congested()) break;
      // Position plus pass: every topic goes through all shapes, one per pass.
      send(schedule[cursor]!, ts, cursor + pass);
      if (++cursor === schedule.length) {
        cursor = 0;
        pass++;
      }
      budgetUsed++;
    }
  };

  let lastPhysics = performance.now();
  const physics = () => {
    const now = performance.now();
    const dtS = ((now - lastPhysics) / 1000) * opts.speed;
    lastPhysics = now;
    const before = state;
    state = stepLineup(state, dtS, rng);
    // Alarm edges go out at once, outside the rotation, as a device reports an event.
    const ts = new Date().toISOString();
    for (const e of alarmEntries) {
      const id = e.compiled.point.topicId;
      if (before.feeders[e.feeder]?.alarms[id] !== state.feeders[e.feeder]?.alarms[id]) {
        alarmEdges++;
        if (client.connected) send(e, ts, seq);
      }
    }
  };

  // --- commands -----------------------------------------------------------------------------
  const commands = new CommandDevice(
    new Set(
      state.feeders.flatMap((f) => [
        `${opts.deviceType}/${f.name}/${opts.source}`,
        `${state.info.groupType}/${f.group}/${state.info.groupSource}`,
      ]),
    ),
  );
  client.on("message", (topic, payload, packet) => {
    const answer = commands.handle({
      topic,
      payload,
      responseTopic: packet.properties?.responseTopic,
      correlationData: packet.properties?.correlationData,
    });
    if (answer)
      client.publish(answer.topic, answer.payload, {
        qos: 1,
        ...(answer.correlationData
          ? { properties: { correlationData: Buffer.from(answer.correlationData) } }
          : {}),
      });
  });
  // QoS 2 as the gateway sends them; MQTT.js subscribes again after a reconnection.
  client.subscribe("cmd/#", { qos: 2 });

  const t0 = performance.now();
  const sentAtStart = sent;
  let lastSummaryAt = t0;
  let lastSummarySent = sent;
  const summary = (final = false) => {
    const now = performance.now();
    const window = (now - (final ? t0 : lastSummaryAt)) / 1000;
    const count = sent - (final ? sentAtStart : lastSummarySent);
    const active = state.feeders.reduce((n, f) => n + Object.values(f.alarms).filter(Boolean).length, 0);
    log(
      `${final ? "stopped after " : "t="}${((now - t0) / 1000).toFixed(0)} s: sent ${sent}` +
        ` (${final ? "average" : "last 5 s"} ${(count / Math.max(window, 1e-3)).toFixed(0)}/s, target ${opts.rate}/s)` +
        `, qos1 in flight ${inFlight}, behind ${shortfall}, alarms active ${active} (${alarmEdges} edges)` +
        (publishErrors > 0 ? `, publish errors ${publishErrors}` : "") +
        (commands.executed + commands.duplicates + commands.refused > 0
          ? `, commands ${commands.executed} (duplicates ${commands.duplicates}, refused ${commands.refused})`
          : "") +
        (client.connected ? "" : ", broker disconnected"),
    );
    lastSummaryAt = now;
    lastSummarySent = sent;
  };

  client.on("offline", () => log(`broker connection lost, reconnecting to ${opts.url}`));
  client.on("connect", () => {
    log(`reconnected; republishing ${startup.length} retained messages`);
    publishStartup();
  });

  const timers = [
    setInterval(tick, TICK_MS),
    setInterval(physics, PHYSICS_MS),
    setInterval(() => summary(), SUMMARY_MS),
  ];

  const durationReached = new Promise<string>((resolve) => {
    if (opts.durationS !== null)
      timers.push(setTimeout(() => resolve("duration reached"), opts.durationS * 1000));
  });
  const reason = await Promise.race([stopRequested, durationReached]);
  for (const t of timers) clearInterval(t);
  // A second signal while closing means "now".
  const force = () => {
    log("forced exit");
    process.exit(130);
  };
  process.once("SIGINT", force);
  process.once("SIGTERM", force);
  log(`${reason}: closing`);
  summary(true);
  // end() without force waits for QoS 1 acknowledgements; do not wait for ever on a dead broker.
  await Promise.race([client.endAsync(), delay(5_000).then(() => client.endAsync(true))]);
  return 0;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!condition() && performance.now() < until) await delay(10);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
