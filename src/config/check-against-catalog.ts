import type { Problem } from "../errors.js";
import type { Catalog } from "../model/catalog-types.js";
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
  return problems;
}
