/**
 * What a rate step means: the backlog series from the publisher's and the receiver's counters,
 * and the rule that decides whether the receiver sustained the rate.
 */
import type { Sample } from "./children.js";

/** The rule that decides whether a step was sustained; printed with the results. */
export const CRITERION = {
  minAchieved: 0.95,
  maxSlopeOfRate: 0.02,
  maxBacklogS: 0.5,
  drainS: 3,
  maxLost: 0.001,
  minDelivered: 0.95,
  maxLatencyIntervals: 10,
} as const;

export function describeCriterion(warmupS: number): string {
  const c = CRITERION;
  return (
    `A step is sustained when (1) the publisher actually sent >= ${c.minAchieved * 100}% of the target rate; ` +
    `and, over the step minus its first ${warmupS} s, with backlog = messages sent - messages received ` +
    `(both counted from the step's start, the sent count interpolated at the receiver's sample times), ` +
    `(2) the backlog's least-squares slope is <= ${c.maxSlopeOfRate * 100}% of the rate per second ` +
    `(the receiver keeps >= ${100 - c.maxSlopeOfRate * 100}% of the pace) and (3) the backlog never exceeds ` +
    `${c.maxBacklogS} s worth of messages; and (4) within ${c.drainS} s after the publisher stops, ` +
    `all but <= ${c.maxLost * 100}% of the step's messages have been received. ` +
    `For the gateway, end to end: (5) the OPC UA client receives >= ${c.minDelivered * 100}% of the notifications ` +
    "the step can cause (queue size 1 and the publisher cycling through the topics: min(rate, topics per " +
    `publishing interval)) and (6) their latency p99 stays within ${c.maxLatencyIntervals} publishing intervals. ` +
    "The first failing step ends the ladder."
  );
}

/** What the OPC UA client got of a gateway step: the reasons it was not delivered end to end. */
export function judgeDelivery(d: {
  rate: number;
  notificationsPerS: number;
  latencyP99Ms: number | null;
  topics: number;
  publishingIntervalMs: number;
  /** The client's queueSize: a point changed more often within one publishing interval is that many notifications. */
  queueSize: number;
}): string[] {
  const reasons: string[] = [];
  const expected = Math.min(d.rate, (d.topics * d.queueSize * 1000) / d.publishingIntervalMs);
  if (!(d.notificationsPerS >= CRITERION.minDelivered * expected))
    reasons.push(`client got ${Math.round(d.notificationsPerS)} notifications/s of ${Math.round(expected)}`);
  const maxLatencyMs = CRITERION.maxLatencyIntervals * d.publishingIntervalMs;
  if (d.latencyP99Ms === null) reasons.push("no notification latency measured");
  else if (d.latencyP99Ms > maxLatencyMs)
    reasons.push(`notification latency p99 ${Math.round(d.latencyP99Ms)} ms > ${maxLatencyMs} ms`);
  return reasons;
}

/** A cumulative counter at time t, linearly interpolated between samples (clamped at the ends). */
export function counterAt(points: { t: number; count: number }[], t: number): number {
  if (points.length === 0) return 0;
  if (t <= points[0]!.t) return points[0]!.count;
  for (let i = 1; i < points.length; i++) {
    const b = points[i]!;
    if (t <= b.t) {
      const a = points[i - 1]!;
      return a.count + ((b.count - a.count) * (t - a.t)) / (b.t - a.t || 1);
    }
  }
  return points[points.length - 1]!.count;
}

export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

export interface StepInput {
  rate: number;
  /** The publisher's report of the step. */
  startT: number;
  endT: number;
  sent: number;
  achievedRate: number;
  /** The publisher's cumulative count before the step. */
  sentBefore: number;
  /** The receiver's count before the step (settled: it had taken everything sent before). */
  receivedBefore: number;
  publisherSamples: Sample[];
  receiverSamples: Sample[];
  /** The receiver's count when the drain wait ended. */
  receivedAfterDrain: number;
  warmupS: number;
}

export interface StepVerdict {
  sustained: boolean;
  reasons: string[];
  receivedRate: number;
  backlogMax: number;
  backlogEnd: number;
  backlogSlopePerS: number;
  lost: number;
  windowS: number;
}

export function judgeStep(s: StepInput): StepVerdict {
  const reasons: string[] = [];
  const pub = [
    { t: s.startT, count: s.sentBefore },
    ...s.publisherSamples.filter((p) => p.t > s.startT && p.t < s.endT),
    { t: s.endT, count: s.sentBefore + s.sent },
  ];
  const recvAtStart = s.receivedBefore;
  const from = s.startT + s.warmupS * 1000;
  const window = s.receiverSamples.filter((r) => r.t >= from && r.t <= s.endT);
  const xs = window.map((r) => (r.t - from) / 1000);
  const backlog = window.map((r) => counterAt(pub, r.t) - s.sentBefore - (r.count - recvAtStart));
  const backlogMax = backlog.length > 0 ? Math.max(...backlog) : Number.NaN;
  const backlogEnd = backlog.length > 0 ? backlog[backlog.length - 1]! : Number.NaN;
  const backlogSlopePerS = slope(xs, backlog);
  const first = window[0];
  const last = window[window.length - 1];
  const windowS = first && last ? (last.t - first.t) / 1000 : 0;
  const receivedRate = first && last && windowS > 0 ? (last.count - first.count) / windowS : Number.NaN;
  const lost = s.sent - (s.receivedAfterDrain - recvAtStart);

  if (s.achievedRate < CRITERION.minAchieved * s.rate)
    reasons.push(`publisher reached only ${Math.round(s.achievedRate)} msg/s`);
  if (window.length < 3) reasons.push("receiver reported too few samples (event loop blocked?)");
  else {
    if (!(backlogSlopePerS <= CRITERION.maxSlopeOfRate * s.rate))
      reasons.push(`backlog grows ${Math.round(backlogSlopePerS)} msg/s`);
    if (!(backlogMax <= CRITERION.maxBacklogS * s.rate))
      reasons.push(`backlog reached ${Math.round(backlogMax)} msgs`);
  }
  if (lost > CRITERION.maxLost * s.sent)
    reasons.push(`${lost} msgs not received ${CRITERION.drainS} s after the step`);
  return {
    sustained: reasons.length === 0,
    reasons,
    receivedRate,
    backlogMax,
    backlogEnd,
    backlogSlopePerS,
    lost,
    windowS,
  };
}

/** Mean of a numeric field over samples within [from, to]; the rate of CPU time as cores. */
export function loadOver(samples: Sample[], from: number, to: number): { elu: number; cores: number } {
  const w = samples.filter((s) => s.t > from && s.t <= to);
  if (w.length === 0) return { elu: Number.NaN, cores: Number.NaN };
  const span = w[w.length - 1]!.t - (samples[samples.indexOf(w[0]!) - 1]?.t ?? from);
  const cpu = w.reduce((a, s) => a + s.cpuMs, 0);
  return { elu: w.reduce((a, s) => a + s.elu, 0) / w.length, cores: cpu / span };
}

export function rateOver(samples: Sample[], from: number, to: number): number {
  const w = samples.filter((s) => s.t >= from && s.t <= to);
  if (w.length < 2) return Number.NaN;
  return (w[w.length - 1]!.count - w[0]!.count) / ((w[w.length - 1]!.t - w[0]!.t) / 1000);
}
