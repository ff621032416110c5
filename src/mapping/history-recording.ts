import type { PointDef } from "../model/catalog-types.js";
import { topicMatchesFilter } from "./topic-filter.js";

/**
 * How history records a point: every value (`all`), off, or only a value that differs from the last
 * recorded one (`change`), by more than a deadband in the point's unit (`deadband 0.5`) or in per
 * cent of its EURange (`deadband 1%`). A status change is recorded whatever the setting but `off`.
 */
export type Recording = "all" | "change" | "off" | `deadband ${string}`;

/**
 * `history.record`: the first MQTT topic filter that matches a point's topic (a device, a few of
 * its points), else the point's own setting (by topic id), else its family's, else the default.
 */
export interface RecordingRules {
  default: Recording;
  families: Record<string, Recording>;
  points: Record<string, Recording>;
  topics: Record<string, Recording>;
}

/** The band of a point that records every value, whether it changed or not. */
export const RECORD_ALL = -1;

/**
 * A point's band, resolved once when the point is made: null records nothing, RECORD_ALL every
 * value, otherwise a value whose distance from the last recorded one exceeds the band.
 */
export function recordingBand(rules: RecordingRules, def: PointDef, topic: string): number | null {
  const r =
    Object.entries(rules.topics).find(([filter]) => topicMatchesFilter(topic, filter))?.[1] ??
    rules.points[def.topicId] ??
    rules.families[def.family] ??
    rules.default;
  if (r === "off") return null;
  if (r === "all") return RECORD_ALL;
  if (r === "change") return 0;
  // `deadband <number>[%]`, as the schema's pattern lets through.
  const band = Number.parseFloat(r.slice("deadband ".length));
  if (!r.endsWith("%")) return band;
  // Part 4, 7.22.2 (PercentDeadband): a share of the EURange; a point without one records each change.
  return def.range ? (band / 100) * (def.range.high - def.range.low) : 0;
}

/**
 * True when `value` is to be recorded after `last` under `band` (0 or more). Part 4, 7.22.2: a
 * number beyond the deadband, |last - value| > band; any other type (and a number after no value)
 * when it differs.
 */
export function outsideBand(
  value: number | boolean | string | Date | null,
  last: number | boolean | string | Date | null,
  band: number,
): boolean {
  if (typeof value === "number" && typeof last === "number") return Math.abs(last - value) > band;
  if (value instanceof Date && last instanceof Date) return value.getTime() !== last.getTime();
  return value !== last;
}
