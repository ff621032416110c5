import { isValidTopicFilter } from "../mapping/topic-filter.js";
import { type Catalog, NUMERIC_TYPES } from "../model/catalog-types.js";
import type { Problem } from "../shared/errors.js";
import type { GatewayConfig } from "./config-types.js";

/** Config keys that name catalog families or points must name ones that exist. */
export function checkConfigAgainstCatalog(
  config: GatewayConfig,
  catalog: Catalog,
  file: string,
  lineOf: (path: readonly string[]) => number,
): Problem[] {
  const problems: Problem[] = [];
  for (const family of Object.keys(config.mapping.staleAfter.families))
    if (!catalog.families.has(family))
      problems.push({
        file,
        line: lineOf(["mapping", "staleAfter", "families", family]),
        message: `mapping.staleAfter.families: family ${family} is not in the catalog`,
      });
  for (const id of Object.keys(config.mapping.staleAfter.points))
    if (!catalog.byTopicId.has(id))
      problems.push({
        file,
        line: lineOf(["mapping", "staleAfter", "points", id]),
        message: `mapping.staleAfter.points: point ${id} is not in the catalog`,
      });
  const { record } = config.history;
  for (const family of Object.keys(record.families))
    if (!catalog.families.has(family))
      problems.push({
        file,
        line: lineOf(["history", "record", "families", family]),
        message: `history.record.families: family ${family} is not in the catalog`,
      });
  for (const [id, r] of Object.entries(record.points)) {
    const point = catalog.byTopicId.get(id);
    const at = (message: string) =>
      problems.push({ file, line: lineOf(["history", "record", "points", id]), message });
    if (!point) at(`history.record.points: point ${id} is not in the catalog`);
    else if (r.startsWith("deadband") && !NUMERIC_TYPES.has(point.dataType))
      at(`history.record.points: point ${id} is not numeric (${point.dataType}): a deadband needs a number`);
    else if (r.endsWith("%") && !point.range)
      at(`history.record.points: point ${id} has no range in the catalog: a deadband in % needs its EURange`);
  }
  for (const filter of Object.keys(record.topics))
    if (!isValidTopicFilter(filter))
      problems.push({
        file,
        line: lineOf(["history", "record", "topics", filter]),
        message: `history.record.topics: '${filter}' is not an MQTT topic filter (+ and # each a whole level, # last)`,
      });
  config.alarms.limits.forEach((limit, i) => {
    const at = (message: string) =>
      problems.push({
        file,
        line: lineOf(["alarms", "limits", String(i)]),
        message: `alarms.limits: ${message}`,
      });
    const point = catalog.byTopicId.get(limit.point);
    if (!point) at(`point ${limit.point} is not in the catalog`);
    else if (!NUMERIC_TYPES.has(point.dataType))
      at(`point ${limit.point} is not numeric (${point.dataType})`);
    const ordered = [limit.lowLow, limit.low, limit.high, limit.highHigh].filter((v) => v !== undefined);
    if (ordered.length === 0) at(`point ${limit.point}: no limit given (highHigh, high, low, lowLow)`);
    if (ordered.some((v, k) => k > 0 && v! <= ordered[k - 1]!))
      at(`point ${limit.point}: limits must rise: lowLow < low < high < highHigh`);
  });
  return problems;
}
