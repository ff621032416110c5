import type { RoleName } from "../security/role-names.js";

/** Argument types a command accepts; Json is a String that must hold a JSON object. */
export const ARGUMENT_TYPES = ["Boolean", "UInt16", "UInt32", "Int32", "Double", "String", "Json"] as const;
export type ArgumentType = (typeof ARGUMENT_TYPES)[number];

export interface CommandInput {
  name: string;
  dataType: ArgumentType;
  description: string;
  range: { low: number; high: number } | null;
  enum: readonly (string | number)[] | null;
  /** A String that may be empty (a comment); others must say something. */
  allowEmpty?: boolean;
}

export interface CommandDef {
  name: string;
  description: string;
  /** The folder the method hangs on, [] for the device object itself. */
  on: readonly string[];
  family: string;
  id: string;
  topic: string;
  payload: Record<string, unknown>;
  inputs: readonly CommandInput[];
  qos: 0 | 1 | 2;
  retain: boolean;
  reply: { wait: boolean; timeoutMs: number };
  role: RoleName;
  line: number;
  /** For the command an OPC UA Write of a readWrite point becomes: the point's topic id. */
  writeOf: string | null;
  /** For the command an OPC UA Acknowledge/Confirm of an alarm point becomes: its topic id. */
  acknowledgeOf?: string;
}
