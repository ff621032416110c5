import type { DataTypeName } from "../model/catalog-types.js";
import type { ArgumentType } from "../model/command-catalog-types.js";
import { DataType } from "../shared/node-opcua.js";

/**
 * The built-in DataType (Part 6, 5.1.2) of a catalog point's type and of a command argument's: one
 * table, so that a point and the argument that writes it can never disagree. A Json argument is
 * JSON text, so a String.
 */
export const OPCUA_DATA_TYPE: Readonly<Record<DataTypeName | ArgumentType, DataType>> = {
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
  Json: DataType.String,
};
