/**
 * Server/ServiceLevel (OPC UA Part 4 6.6.2.4.2, Table 103): 0 Maintenance, 1 NoData, 2–199
 * Degraded, 200–255 Healthy. The algorithm inside each sub-range is the server's own, but every
 * member of a redundant set must use the same one: this is it (README, Redundancy).
 */
export const SERVICE_LEVEL = { maintenance: 0, noData: 1, degradedMin: 2, healthyMin: 200 } as const;

/** Degraded levels spread the fresh share over 2–190; the preference adds at most 9 (≤ 199). */
const DEGRADED_SPAN = 188;
const PREFERENCE_STEP = 6;

export interface ServiceLevelInputs {
  /** The gateway is stopping: clients should go now (Maintenance). */
  stopping: boolean;
  /** Connected to the broker (the subscriptions are asked at once; the broker's replay follows). */
  connected: boolean;
  /** Milliseconds since the connection. */
  connectedForMs: number;
  /** Points whose last value is fresh (not stale, lost, restored or undecodable). */
  freshPoints: number;
  /** Points that have had a value (fresh or not); points still waiting for a first one do not count. */
  knownPoints: number;
  /** Ingest-thread batches waiting for the main thread (0 without a thread). */
  backlogBatches: number;
}

export interface ServiceLevelRules {
  /** 0–55, added to 200 while healthy. */
  preference: number;
  healthyFreshShare: number;
  /** Seconds connected before a member may call itself healthy. */
  warmUp: number;
  degradedBacklog: number;
}

/** The share of known points that are fresh; a member that knows no point yet has none fresh. */
export function freshShare(freshPoints: number, knownPoints: number): number {
  return knownPoints === 0 ? 0 : Math.min(1, freshPoints / knownPoints);
}

/**
 * 0 while stopping; 1 while not connected to the broker; 200 + preference when the fresh share
 * reaches healthyFreshShare, the backlog is below degradedBacklog and warm-up is over; else
 * degraded, 2 + ⌊188 × share⌋ + ⌊preference / 6⌋, so that the fresher member ranks first and the
 * preference only breaks ties.
 */
export function serviceLevel(i: ServiceLevelInputs, r: ServiceLevelRules): number {
  if (i.stopping) return SERVICE_LEVEL.maintenance;
  if (!i.connected) return SERVICE_LEVEL.noData;
  const share = freshShare(i.freshPoints, i.knownPoints);
  const healthy =
    share >= r.healthyFreshShare &&
    i.knownPoints > 0 &&
    i.backlogBatches < r.degradedBacklog &&
    i.connectedForMs >= r.warmUp * 1000;
  if (healthy) return SERVICE_LEVEL.healthyMin + r.preference;
  return (
    SERVICE_LEVEL.degradedMin + Math.floor(DEGRADED_SPAN * share) + Math.floor(r.preference / PREFERENCE_STEP)
  );
}
