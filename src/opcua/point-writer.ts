import { DataType, DataValue, type StatusCode, type UAVariable, Variant } from "node-opcua";
import type { DataTypeName } from "../model/catalog-types.js";

const VARIANT_TYPE: Record<DataTypeName, DataType> = {
  Boolean: DataType.Boolean,
  Byte: DataType.Byte,
  SByte: DataType.SByte,
  UInt16: DataType.UInt16,
  Int16: DataType.Int16,
  UInt32: DataType.UInt32,
  Int32: DataType.Int32,
  Float: DataType.Float,
  Double: DataType.Double,
  String: DataType.String,
  DateTime: DataType.DateTime,
};

export function variantOf(dataType: DataTypeName, value: number | boolean | string | Date | null): Variant {
  return value === null
    ? new Variant({ dataType: DataType.Null })
    : new Variant({ dataType: VARIANT_TYPE[dataType], value });
}

interface InternalVariable {
  _internal_set_dataValue(dataValue: DataValue): void;
}

/**
 * Sets a mirrored variable's value, status and timestamps in one step.
 *
 * setValueFromSource stamps the source time as server time too, so a value replayed with an old
 * payload timestamp would claim the server saw it back then. We hand node-opcua the complete
 * DataValue through the method setValueFromSource itself ends in; it still checks the variant
 * against the variable's DataType and notifies monitored items. A null source time keeps the
 * previous one (a status change of an unchanged value).
 */
export function writePoint(
  variable: UAVariable,
  value: Variant,
  statusCode: StatusCode,
  sourceTimestamp: Date | null,
  serverTimestamp: Date,
): void {
  const dataValue = new DataValue({ value, statusCode, sourceTimestamp, serverTimestamp });
  (variable as unknown as InternalVariable)._internal_set_dataValue(dataValue);
}

/**
 * The status of a variable nobody can be monitoring yet (it was just created): node-opcua starts
 * every variable UncertainInitialValue; ours say BadWaitingForInitialData (Part 8) until data comes.
 * Set in place: a full write would clone and compare a DataValue for each of 100,000 points.
 * No value has a source yet, so no source time; the server time is when the point was created,
 * one Date shared by the points created together (node-opcua stamps two Dates per variable,
 * ~190 B a point at 100,000 points; DataValues replace their Dates, never mutate them).
 */
export function setInitialStatus(variable: UAVariable, statusCode: StatusCode, createdAt: Date): void {
  const dataValue = (variable as unknown as { $dataValue: DataValue }).$dataValue;
  dataValue.statusCode = statusCode;
  dataValue.sourceTimestamp = null;
  dataValue.sourcePicoseconds = 0;
  dataValue.serverTimestamp = createdAt;
  dataValue.serverPicoseconds = 0;
}
