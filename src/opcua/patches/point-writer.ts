import type { StatusCode, UAVariable } from "node-opcua";
import type { DataTypeName } from "../../model/catalog-types.js";
import { DataValue, sameDataValue, Variant } from "../../shared/node-opcua.js";
import { OPCUA_DATA_TYPE } from "../data-types.js";

/**
 * A scalar Variant of a value already coerced to the point's type. Built field by field: the
 * options form of node-opcua's constructor validates and copies through a schema (~1 µs a value).
 */
export function variantOf(dataType: DataTypeName, value: number | boolean | string | Date | null): Variant {
  const variant = new Variant();
  if (value !== null) {
    variant.dataType = OPCUA_DATA_TYPE[dataType];
    variant.value = value;
  }
  return variant;
}

interface StoredVariable {
  $dataValue: DataValue;
  emit(event: "value_changed", dataValue: DataValue): boolean;
}

/**
 * Sets a mirrored variable's value, status and timestamps in one step, and tells its monitored
 * items when any of them changed. A null source time keeps the previous one (a status change of
 * an unchanged value).
 *
 * setValueFromSource stamps the source time as server time too, so a value replayed with an old
 * payload timestamp would claim the server saw it back then. Its inner step, which takes a whole
 * DataValue, checks the variant against the DataType, clones the previous DataValue to compare
 * and clones the new one for the listeners: ~2 µs a value, at tens of thousands a second. Here the
 * values are coerced to the point's type before, and neither DataValue is ever changed once
 * stored (each write stores a new one), so the previous one is compared as it is and the new one
 * handed to the listeners; node-opcua's monitored items copy what they queue.
 */
export function writePoint(
  variable: UAVariable,
  value: Variant,
  statusCode: StatusCode,
  sourceTimestamp: Date | null,
  serverTimestamp: Date,
): void {
  const stored = variable as unknown as StoredVariable;
  const previous = stored.$dataValue;
  const dataValue = new DataValue();
  dataValue.value = value;
  dataValue.statusCode = statusCode;
  dataValue.sourceTimestamp = sourceTimestamp ?? previous.sourceTimestamp;
  dataValue.sourcePicoseconds = sourceTimestamp ? 0 : previous.sourcePicoseconds;
  dataValue.serverTimestamp = serverTimestamp;
  stored.$dataValue = dataValue;
  if (!sameDataValue(previous, dataValue)) stored.emit("value_changed", dataValue);
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
