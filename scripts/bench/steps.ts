/**
 * The rate ladder: one step publishes at a rate for --step-seconds and judges whether the receiver
 * (and, for the gateway, the OPC UA client) kept up; the ladder climbs until a step fails.
 */
import { CRITERION, judgeDelivery, judgeStep, loadOver, rateOver, type StepVerdict } from "./analysis.js";
import type { BenchBroker } from "./broker.js";
import { type Child, cpuMsOf, machineCpuMs } from "./children.js";
import { epochMs, type Msg, round, sleep } from "./common.js";
import type { BenchContext } from "./context.js";

export interface StepResult extends StepVerdict {
  rate: number;
  sent: number;
  achievedRate: number;
  drainMs: number;
  /** Ticks at which the publisher held back because its socket had too much unsent. */
  publisherHeldBackTicks: number;
  rejected: number | null;
  cores: Record<string, number | null>;
  elu: Record<string, number | null>;
  notificationsPerS: number | null;
  /** Publish responses the client received per second (the publishing interval would allow 1000/interval). */
  publishResponsesPerS: number | null;
  /** CPU time the receiver spent per message received (all its threads' work, µs). */
  receiverCpuUsPerMsg: number | null;
  latencyMs: LatencyStats | null;
}

export interface LatencyStats {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** The processes of a ladder: who publishes, who receives (and is judged), and the OPC UA client of a gateway. */
export interface Rig {
  publisher: Child;
  receiver: Child;
  broker: BenchBroker;
  client: Child | null;
}

/** Waits until `receiver` has taken everything published so far (bounded). */
async function settle(ctx: BenchContext, receiver: Child, boundMs: number): Promise<void> {
  const until = Date.now() + boundMs;
  let last = receiver.samples.at(-1);
  while (Date.now() < until) {
    await sleep(250);
    const now = receiver.samples.at(-1);
    // Two successive samples with the same count: nothing is in flight any more.
    if (now && last && now !== last && now.count === last.count) return;
    if (now !== last) last = now;
  }
  ctx.log(`${receiver.name} still receiving after ${boundMs} ms; the next step starts anyway`);
}

async function runStep(ctx: BenchContext, rate: number, rig: Rig): Promise<StepResult> {
  const { opts } = ctx;
  const { publisher, receiver, broker, client } = rig;
  const durationMs = opts.stepSeconds * 1000;
  const warmupMs = opts.warmupSeconds * 1000;
  const sentBefore = ctx.published;
  // settle() waited until the receiver's count stood still: this is everything it got before the step.
  const before = receiver.samples.at(-1);
  const recvAtStart = before?.count ?? 0;
  let brokerCpuFrom: number | null = null;
  let machineFrom: ReturnType<typeof machineCpuMs> = null;
  let latencyStarted: Promise<Msg> | null = null;
  const warm = setTimeout(() => {
    brokerCpuFrom = cpuMsOf(broker.pid);
    machineFrom = machineCpuMs();
    latencyStarted = client?.request({ type: "latency-start" }, 10_000) ?? null;
  }, warmupMs);
  const done = await publisher.request({ type: "run", rate, durationMs }, durationMs + 30_000);
  clearTimeout(warm);
  const brokerCpuTo = cpuMsOf(broker.pid);
  const machineTo = machineCpuMs();
  const startT = Number(done.startT);
  const endT = Number(done.endT);
  const sent = Number(done.sent);
  ctx.published += sent;
  let latency: Msg | null = null;
  if (client && latencyStarted) {
    await latencyStarted;
    latency = await client.request({ type: "latency-stop" }, 30_000);
  }

  // Drain: wait (bounded) for the receiver to count every message of the step.
  const drainUntil = endT + CRITERION.drainS * 1000;
  let drainMs = CRITERION.drainS * 1000;
  while (epochMs() < drainUntil) {
    const last = receiver.samples.at(-1);
    if (last && last.t > endT && last.count - recvAtStart >= sent) {
      drainMs = Math.max(0, last.t - endT);
      break;
    }
    await sleep(50);
  }
  const receivedAfterDrain = receiver.samples.at(-1)?.count ?? 0;
  const verdict = judgeStep({
    rate,
    startT,
    endT,
    sent,
    achievedRate: Number(done.achievedRate),
    sentBefore,
    receivedBefore: recvAtStart,
    publisherSamples: publisher.samples,
    receiverSamples: receiver.samples,
    receivedAfterDrain,
    warmupS: opts.warmupSeconds,
  });
  const from = startT + warmupMs;
  const lastRecv = receiver.samples.at(-1);
  const rejected =
    lastRecv && typeof lastRecv.rejected === "number" && before
      ? Number(lastRecv.rejected) - Number(before.rejected ?? 0)
      : null;
  if (rejected) verdict.reasons.push(`${rejected} messages rejected by the gateway`);
  const notificationsPerS = client ? rateOver(client.samples, from, endT) : null;
  if (client)
    verdict.reasons.push(
      ...judgeDelivery({
        rate,
        notificationsPerS: notificationsPerS ?? 0,
        latencyP99Ms: latency && typeof latency.p99 === "number" ? latency.p99 : null,
        topics: ctx.layout.topics.length,
        publishingIntervalMs: opts.publishingInterval,
        queueSize: opts.queueSize,
      }),
    );
  verdict.sustained = verdict.reasons.length === 0;
  const pubLoad = loadOver(publisher.samples, from, endT);
  const recvLoad = loadOver(receiver.samples, from, endT);
  const clientLoad = client ? loadOver(client.samples, from, endT) : null;
  const brokerCores =
    brokerCpuFrom !== null && brokerCpuTo !== null ? (brokerCpuTo - brokerCpuFrom) / (endT - from) : null;
  // Everything the machine did meanwhile, and what of it none of the bench's processes did
  // (other programs, and kernel network work not charged to a process).
  const m0 = machineFrom as ReturnType<typeof machineCpuMs>;
  const machineCores =
    m0 && machineTo ? ((machineTo.busy - m0.busy) / (machineTo.total - m0.total)) * ctx.machine.cores : null;
  const benchCores =
    (pubLoad.cores || 0) + (recvLoad.cores || 0) + (clientLoad?.cores || 0) + (brokerCores ?? 0);
  const otherCores = machineCores === null ? null : machineCores - benchCores;
  const lat = (k: string) =>
    latency && typeof latency[k] === "number" ? round(latency[k] as number, 1) : null;
  return {
    rate,
    sent,
    achievedRate: Math.round(Number(done.achievedRate)),
    drainMs: Math.round(drainMs),
    publisherHeldBackTicks: Number(done.heldBackTicks ?? 0),
    rejected,
    ...verdict,
    receivedRate: Math.round(verdict.receivedRate),
    backlogMax: Math.round(verdict.backlogMax),
    backlogEnd: Math.round(verdict.backlogEnd),
    backlogSlopePerS: Math.round(verdict.backlogSlopePerS),
    windowS: round(verdict.windowS, 1) ?? 0,
    cores: {
      machine: machineCores === null ? null : round(machineCores, 2),
      other: otherCores === null ? null : round(otherCores, 2),
      publisher: round(pubLoad.cores, 2),
      broker: brokerCores === null ? null : round(brokerCores, 2),
      receiver: round(recvLoad.cores, 2),
      ...(clientLoad ? { client: round(clientLoad.cores, 2) } : {}),
    },
    elu: {
      receiver: round(recvLoad.elu, 2),
      ...(clientLoad ? { client: round(clientLoad.elu, 2) } : {}),
    },
    notificationsPerS: notificationsPerS === null ? null : Math.round(notificationsPerS),
    publishResponsesPerS: client
      ? round(
          rateOver(
            client.samples.map((x) => ({ ...x, count: Number(x.publishResponses) })),
            from,
            endT,
          ),
          1,
        )
      : null,
    receiverCpuUsPerMsg: round((recvLoad.cores * 1e6) / verdict.receivedRate, 1),
    latencyMs: latency
      ? {
          count: Number(latency.count),
          p50: lat("p50"),
          p95: lat("p95"),
          p99: lat("p99"),
          max: lat("max"),
          mean: lat("mean"),
        }
      : null,
  };
}

export interface Ladder {
  steps: StepResult[];
  /** The highest sustained step, or 0 if none. */
  maxSustainedRate: number;
  /** Why the ladder ended. */
  endedBy: string;
  /**
   * True when the receiver never failed (the ladder ran out of rates, or the publisher could not go
   * faster): its true maximum is then at least maxSustainedRate.
   */
  lowerBound: boolean;
}

export async function ladder(
  ctx: BenchContext,
  label: string,
  rig: Rig,
  alsoRun: number | null,
): Promise<Ladder> {
  const { receiver } = rig;
  const steps: StepResult[] = [];
  let endedBy = "every step sustained";
  let lowerBound = true;
  for (const rate of ctx.opts.rates) {
    await settle(ctx, receiver, 15_000);
    ctx.log(`${label}: ${rate} msg/s for ${ctx.opts.stepSeconds} s`);
    const step = await runStep(ctx, rate, rig);
    steps.push(step);
    ctx.log(
      `${label}: ${rate} msg/s → sent ${step.achievedRate}/s, received ${step.receivedRate}/s, ` +
        `backlog max ${step.backlogMax} slope ${step.backlogSlopePerS}/s: ` +
        `${step.sustained ? "sustained" : `NOT sustained (${step.reasons.join("; ")})`}` +
        (step.latencyMs ? `, latency p50 ${step.latencyMs.p50} p99 ${step.latencyMs.p99} ms` : ""),
    );
    if (!step.sustained) {
      const publisherOnly = step.reasons.every((r) => r.startsWith("publisher reached only"));
      lowerBound = publisherOnly;
      endedBy = publisherOnly
        ? `publisher could not reach ${rate} msg/s`
        : `${rate} msg/s not sustained: ${step.reasons.join("; ")}`;
      break;
    }
  }
  const maxSustainedRate = Math.max(0, ...steps.filter((s) => s.sustained).map((s) => s.rate));
  // The latency target is set at one rate: measure it there even when the ladder stopped below.
  if (alsoRun !== null && !steps.some((s) => s.rate === alsoRun)) {
    await settle(ctx, receiver, 30_000);
    ctx.log(`${label}: ${alsoRun} msg/s (latency step, above the sustained rate)`);
    steps.push(await runStep(ctx, alsoRun, rig));
  }
  return { steps, maxSustainedRate, endedBy, lowerBound };
}
