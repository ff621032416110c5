import { csvRecord } from "../shared/csv.js";
import type { Catalog } from "./catalog-types.js";

/** One row of the point list a SCADA or PLC engineer imports as tags. */
export interface PointRow {
  topicId: string;
  label: string;
  /** Below the device object: Objects/SmartGear/Devices/<type>/<name>/<source>/<browsePath>. */
  browsePath: string;
  dataType: string;
  /** The unit's display name, or "none" where the point has no engineering unit. */
  unit: string;
  /** UNECE common code of the unit; empty where there is none. */
  unitCode: string;
  rangeLow: number | null;
  rangeHigh: number | null;
  access: string;
  alarm: boolean;
  /** The variable's NodeId once a device publishes; the placeholders are the topic's last three levels. */
  nodeIdTemplate: string;
}

export function pointRows(catalog: Catalog, namespaceUri: string): PointRow[] {
  return catalog.points.map((p) => ({
    topicId: p.topicId,
    label: p.label,
    browsePath: p.browsePath,
    dataType: p.dataType,
    unit: p.unit ? p.unit.displayName : "none",
    unitCode: p.unit?.unece ?? "",
    rangeLow: p.range?.low ?? null,
    rangeHigh: p.range?.high ?? null,
    access: p.access,
    alarm: p.alarm,
    nodeIdTemplate: `nsu=${namespaceUri};s=${p.topicId}/{deviceType}/{deviceName}/{deviceSource}`,
  }));
}

const COLUMNS: readonly (keyof PointRow)[] = [
  "topicId",
  "label",
  "browsePath",
  "dataType",
  "unit",
  "unitCode",
  "rangeLow",
  "rangeHigh",
  "access",
  "alarm",
  "nodeIdTemplate",
];

/** RFC 4180 CSV with a header row, CRLF line ends, as spreadsheet and SCADA importers expect. */
export function toCsv(rows: readonly PointRow[]): string {
  return [csvRecord(COLUMNS), ...rows.map((r) => csvRecord(COLUMNS.map((c) => r[c])))].join("");
}
