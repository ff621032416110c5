/** What a run prints: its results as one JSON document, and the tables a reader reads first. */
import { describeCriterion } from "./analysis.js";
import { round } from "./common.js";
import type { BenchContext } from "./context.js";
import { atLeast, type Judged, type Results } from "./targets.js";

/** The results document: printed after the tables and written to --out. */
export function resultsDocument(ctx: BenchContext, results: Results, judged: Judged, startedAt: number) {
  const { opts, layout } = ctx;
  return {
    bench: "smartgear-gateway npm run bench",
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - startedAt) / 1000),
    machine: ctx.machine,
    options: { ...opts, out: undefined },
    layout: {
      topics: layout.topics.length,
      devices: layout.devices.length,
      monitoredPoints: layout.pointTopics.length,
      topicExample: layout.topics[0],
    },
    criterion: describeCriterion(opts.warmupSeconds),
    bare: results.bare ?? null,
    gateway: results.gateway ?? null,
    ratio: judged.ratio === null ? null : round(judged.ratio, 3),
    memory: results.memory ?? null,
    targets: judged.targets,
    notes: ctx.notes,
  };
}

/** Columns padded to their widest cell, under a header and a rule. */
function table(headers: string[], rows: (string | number | null)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? "-" : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  // Figures right-aligned, words left-aligned.
  const numeric = headers.map((_, i) =>
    cells.slice(1).every((r) => /^[-+\d.,]+[k%]?( [A-Za-z]+)?$/.test(r[i] ?? "")),
  );
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join(
    "\n",
  );
}
/** Rates in thousands: 65000 → 65.0k. */
const k = (n: number | null) => (n === null ? null : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n));

/** The tables and lines printed before the JSON. */
export function formatReport(ctx: BenchContext, results: Results, judged: Judged): string {
  const { opts, layout, machine, notes } = ctx;
  const { bare, gateway, memory: m } = results;
  const { targets, ratio } = judged;
  const out: string[] = [];
  out.push(
    `Sm@rtGear gateway bench — ${machine.cpuModel}, ${machine.cores} cores, ${machine.totalMemoryGiB} GiB, ` +
      `Node ${machine.node}, node-opcua ${machine.packages["node-opcua"]}, mqtt ${machine.packages.mqtt}, ` +
      `broker ${machine.broker.kind} ${machine.broker.version}, receivers run with node ${machine.receiverNodeFlags.join(" ")}`,
  );
  out.push(
    `${layout.topics.length} topics on ${layout.devices.length} declared devices (${layout.pointTopics.length} mirrored points), ` +
      `payload ${opts.payload}, QoS ${opts.qos}, publisher ${opts.publisher}, ${opts.stepSeconds} s steps` +
      (opts.quick ? " (QUICK)" : ""),
  );
  for (const [name, l] of [
    ["bare MQTT.js subscriber", bare],
    ["gateway → OPC UA client", gateway],
  ] as const) {
    if (!l) continue;
    out.push("", `${name}: max sustained ${atLeast(l)}${l.maxSustainedRate} msg/s — ${l.endedBy}`);
    const withClient = l === gateway;
    out.push(
      table(
        [
          "target/s",
          "sent/s",
          "recv/s",
          "backlog max",
          "slope/s",
          "lost",
          "ok",
          "cpu other",
          "pub",
          "broker",
          withClient ? "gateway" : "bare",
          ...(withClient
            ? ["client", "gw elu", "gw µs/msg", "notif/s", "resp/s", "lat p50", "p95", "p99 ms"]
            : ["elu", "µs/msg"]),
        ],
        l.steps.map((s) => [
          k(s.rate),
          k(s.achievedRate),
          k(s.receivedRate),
          s.backlogMax,
          s.backlogSlopePerS,
          s.lost,
          s.sustained ? "yes" : "NO",
          s.cores.other ?? null,
          s.cores.publisher ?? null,
          s.cores.broker ?? null,
          s.cores.receiver ?? null,
          ...(withClient
            ? [
                s.cores.client ?? null,
                s.elu.receiver ?? null,
                s.receiverCpuUsPerMsg,
                k(s.notificationsPerS),
                s.publishResponsesPerS,
                s.latencyMs?.p50 ?? null,
                s.latencyMs?.p95 ?? null,
                s.latencyMs?.p99 ?? null,
              ]
            : [s.elu.receiver ?? null, s.receiverCpuUsPerMsg]),
        ]),
      ),
    );
    for (const s of l.steps) if (!s.sustained) out.push(`  ${k(s.rate)}: ${s.reasons.join("; ")}`);
  }
  if (gateway)
    out.push(
      "",
      `gateway start-up with ${layout.devices.length} devices: ${gateway.startMs} ms; ` +
        `client subscribed ${gateway.monitoredItems} items in ` +
        `${gateway.subscribeMs} ms; publishing interval ${gateway.publishingIntervalMs} ms, ` +
        `queueSize ${gateway.queueSize}; history ${opts.history ? "on" : "off"}`,
    );
  if (ratio !== null) out.push(`gateway / bare MQTT.js: ${(ratio * 100).toFixed(0)}%`);
  if (m) {
    out.push(
      "",
      `memory and start-up: ${m.devices} devices × ${m.catalogPointsPerDevice} catalog points = ${m.points} points`,
      table(
        ["", "per point", "all-in per point", "after start", "without devices"],
        [
          [
            "heap",
            `${m.heapPerPointBytes} B`,
            `${m.heapPerPointAllInBytes} B`,
            `${m.heapAfterStartMiB} MiB`,
            `${m.heapWithoutDevicesMiB} MiB`,
          ],
          [
            "RSS",
            `${m.rssPerPointBytes} B`,
            `${m.rssPerPointAllInBytes} B`,
            `${m.rssAfterStartMiB} MiB`,
            `${m.rssWithoutDevicesMiB} MiB`,
          ],
        ],
      ),
      `Gateway.start(): ${m.startMs} ms (building the points ${m.buildPointsMs} ms; without devices ${m.startMsWithoutDevices} ms)`,
    );
  }
  out.push(
    "",
    table(
      ["target", "measured", "verdict"],
      targets.map((t) => [t.target, t.measured, t.verdict]),
    ),
  );
  out.push("", `Criterion: ${describeCriterion(opts.warmupSeconds)}`);
  for (const n of notes) out.push(`Note: ${n}`);
  return out.join("\n");
}
