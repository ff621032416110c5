import type { EUInformation } from "node-opcua";
import type { UnitDef } from "../model/catalog-types.js";
import { makeEUInformation } from "../shared/node-opcua.js";

/** OPC UA EUInformation of a catalog unit (Part 8, 5.6.3); unitId -1 where UNECE has no code. */
export function euInformation(unit: UnitDef): EUInformation {
  const eu = makeEUInformation(unit.unece ?? "", unit.displayName, unit.description);
  if (!unit.unece) eu.unitId = -1;
  return eu;
}
