/** OPC UA built-in data types a catalog point may have (Part 6, 5.1.2). */
export const DATA_TYPES = [
  "Boolean",
  "Byte",
  "SByte",
  "UInt16",
  "Int16",
  "UInt32",
  "Int32",
  "Float",
  "Double",
  "String",
  "DateTime",
] as const;
export type DataTypeName = (typeof DATA_TYPES)[number];

export const NUMERIC_TYPES: ReadonlySet<DataTypeName> = new Set([
  "Byte",
  "SByte",
  "UInt16",
  "Int16",
  "UInt32",
  "Int32",
  "Float",
  "Double",
]);

/** What each integer type can hold (OPC UA Part 6, 5.2.2): values outside are refused, never wrapped. */
export const INTEGER_RANGES: Readonly<Partial<Record<string, readonly [number, number]>>> = {
  Byte: [0, 255],
  SByte: [-128, 127],
  UInt16: [0, 65535],
  Int16: [-32768, 32767],
  UInt32: [0, 4294967295],
  Int32: [-2147483648, 2147483647],
};

export type Access = "read" | "readWrite";

export interface UnitDef {
  key: string;
  /** UNECE Recommendation 20 common code, or null where there is none (unitId -1). */
  unece: string | null;
  displayName: string;
  description: string;
}

export interface FamilyDef {
  id: string;
  name: string;
  label: string;
}

export interface Range {
  low: number;
  high: number;
}

/** Where a point was written: the line of the point, or of the rule that generated it. */
export interface SourceRef {
  file: string;
  line: number;
}

/** One data point of the Sm@rtGear data model: everything the gateway knows about a topic id. */
export interface PointDef {
  /** `<family>/<id>`, the first two topic levels. */
  topicId: string;
  family: string;
  id: number;
  /** The vendor's label, verbatim (for rule-generated points, the rule's label for that point). */
  label: string;
  browseName: string;
  /** Folder path below the device object, e.g. ["PowerQuality", "Voltage"]. */
  folder: readonly string[];
  /** `folder/…/browseName`, unique in the catalog. */
  browsePath: string;
  dataType: DataTypeName;
  unit: UnitDef | null;
  range: Range | null;
  access: Access;
  /** For readWrite points: the least role a writer needs (Engineer unless the catalog says Operator). */
  writeRole: "Operator" | "Engineer" | null;
  alarm: boolean;
  /** For alarm points: an OPC UA Acknowledge or Confirm is also published to the device. */
  acknowledgeToDevice: boolean;
  severity: number | null;
  note: string | null;
  /** The rule that generated the point, or null for a point listed explicitly. */
  generatedBy: string | null;
  source: SourceRef;
}

export interface Catalog {
  file: string;
  version: number;
  families: ReadonlyMap<string, FamilyDef>;
  units: ReadonlyMap<string, UnitDef>;
  /** In catalog order: explicit points, then rule-generated ones, sorted by family and id. */
  points: readonly PointDef[];
  byTopicId: ReadonlyMap<string, PointDef>;
}

/** The text an OPC UA client shows as the variable's Description. */
export function describePoint(p: PointDef): string {
  const base = `${p.label} (Sm@rtGear topic id ${p.topicId})`;
  return p.note ? `${base}. ${p.note}` : base;
}
