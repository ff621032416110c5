import type { StatusCode } from "node-opcua";
import { INTEGER_RANGES } from "../model/catalog-types.js";
import type { CommandDef, CommandInput } from "../model/command-catalog-types.js";
import { type DeviceId, deviceKeyOf } from "../model/device-identity.js";
import { StatusCodes } from "../shared/node-opcua.js";

export type CheckedArguments =
  | { ok: true; values: Record<string, unknown> }
  | { ok: false; status: StatusCode; results: StatusCode[]; detail: string };

/**
 * Checks a call's input arguments against the command's declaration, one result per argument
 * (OPC UA Part 4, 5.11.2: BadTypeMismatch, BadOutOfRange, BadInvalidArgument). Nothing is
 * published when any argument is wrong.
 */
export function checkArguments(command: CommandDef, args: readonly unknown[]): CheckedArguments {
  if (args.length !== command.inputs.length)
    return {
      ok: false,
      status:
        args.length < command.inputs.length
          ? StatusCodes.BadArgumentsMissing
          : StatusCodes.BadTooManyArguments,
      results: [],
      detail: `expected ${command.inputs.length} argument(s), got ${args.length}`,
    };
  const values: Record<string, unknown> = {};
  const results: StatusCode[] = [];
  const details: string[] = [];
  command.inputs.forEach((input, i) => {
    const r = checkOne(input, args[i]);
    results.push(r.status);
    if (r.status === StatusCodes.Good) values[input.name] = r.value;
    else details.push(`${input.name}: ${r.detail}`);
  });
  const firstBad = results.find((s) => s !== StatusCodes.Good);
  return firstBad
    ? { ok: false, status: firstBad, results, detail: details.join("; ") }
    : { ok: true, values };
}

function checkOne(
  input: CommandInput,
  value: unknown,
): { status: StatusCode; value?: unknown; detail?: string } {
  const bad = (status: StatusCode, detail: string) => ({ status, detail });
  switch (input.dataType) {
    case "Boolean":
      return typeof value === "boolean"
        ? { status: StatusCodes.Good, value }
        : bad(StatusCodes.BadTypeMismatch, "not a Boolean");
    case "String":
      if (typeof value !== "string") return bad(StatusCodes.BadTypeMismatch, "not a String");
      if (value.trim() === "" && !input.allowEmpty) return bad(StatusCodes.BadInvalidArgument, "empty");
      if (input.enum && !input.enum.includes(value))
        return bad(StatusCodes.BadInvalidArgument, `'${value}' is not one of ${input.enum.join(", ")}`);
      return { status: StatusCodes.Good, value };
    case "Json": {
      if (typeof value !== "string") return bad(StatusCodes.BadTypeMismatch, "not a String");
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        return bad(StatusCodes.BadInvalidArgument, "not valid JSON");
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        return bad(StatusCodes.BadInvalidArgument, "not a JSON object");
      return { status: StatusCodes.Good, value: parsed };
    }
    default: {
      if (typeof value !== "number") return bad(StatusCodes.BadTypeMismatch, `not a ${input.dataType}`);
      if (!Number.isFinite(value)) return bad(StatusCodes.BadOutOfRange, "not a finite number");
      const limits = INTEGER_RANGES[input.dataType];
      if (limits && (!Number.isInteger(value) || value < limits[0] || value > limits[1]))
        return bad(StatusCodes.BadOutOfRange, `outside ${input.dataType}`);
      if (input.range && (value < input.range.low || value > input.range.high))
        return bad(
          StatusCodes.BadOutOfRange,
          `${value} is outside [${input.range.low}, ${input.range.high}]`,
        );
      if (input.enum && !input.enum.includes(value))
        return bad(StatusCodes.BadOutOfRange, `${value} is not one of ${input.enum.join(", ")}`);
      return { status: StatusCodes.Good, value };
    }
  }
}

/** The command's topic for one device. */
export function renderTopic(command: CommandDef, device: DeviceId): string {
  const fill: Record<string, string> = { family: command.family, id: command.id, ...device };
  return command.topic.replace(/\{([A-Za-z]+)\}/g, (_m, key: string) => fill[key] ?? "");
}

/**
 * Where a device answers a command: the gateway's reply topic with the device's own three levels
 * appended, so that a broker ACL can let each device publish to its own reply topic and no other.
 */
export function deviceReplyTopic(replyTopic: string, device: DeviceId): string {
  return `${replyTopic}/${deviceKeyOf(device)}`;
}

/** The device whose reply topic `topic` is; null when it is not `<replyTopic>/<type>/<name>/<source>`. */
export function deviceOfReplyTopic(replyTopic: string, topic: string): DeviceId | null {
  if (!topic.startsWith(`${replyTopic}/`)) return null;
  const levels = topic.slice(replyTopic.length + 1).split("/");
  if (levels.length !== 3 || levels.some((l) => l === "")) return null;
  const [deviceType, deviceName, deviceSource] = levels as [string, string, string];
  return { deviceType, deviceName, deviceSource };
}

export interface CommandEnvelope {
  commandId: string;
  ts: string;
  /**
   * Only where no MQTT 5 properties can carry them (MQTT 3.1.1, the embedded broker): the device's
   * reply topic and the correlation id it echoes. Under MQTT 5 they travel as the Response Topic
   * and Correlation Data properties (MQTT 5 §4.10) and never in the payload.
   */
  replyTo?: string;
  correlationId?: string;
}

/**
 * The command's JSON payload: the template with each "{input:Name}" replaced by the typed value
 * (a Json input as the object itself), plus the envelope: commandId (so a device can drop a
 * duplicate), the command's name, and the time.
 */
export function buildPayload(
  command: CommandDef,
  values: Record<string, unknown>,
  envelope: CommandEnvelope,
): string {
  const fill = (node: unknown): unknown => {
    if (typeof node === "string") {
      const whole = /^\{input:([A-Za-z0-9]+)\}$/.exec(node);
      return whole ? values[whole[1]!] : node;
    }
    if (Array.isArray(node)) return node.map(fill);
    if (typeof node === "object" && node !== null)
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fill(v)]));
    return node;
  };
  const body = fill(command.payload) as Record<string, unknown>;
  return JSON.stringify({ ...envelope, command: command.name, ...body });
}

export interface ParsedReply {
  correlationId: string | null;
  /** The device's own status word ("ok", "error", …); "unknown" where the reply has none. */
  status: string;
  /** The reply as text, for the caller. */
  text: string;
}

/** A device's answer: JSON with correlationId (3.1.1) or the MQTT 5 correlation data, and a status. */
export function parseReply(payload: Uint8Array, correlationData?: Uint8Array): ParsedReply {
  const text = Buffer.from(payload).toString("utf8");
  let doc: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      doc = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: only MQTT 5 correlation data can match it; its text is passed on as it is.
  }
  const fromPayload = typeof doc.correlationId === "string" ? doc.correlationId : null;
  const correlationId = correlationData ? Buffer.from(correlationData).toString("utf8") : fromPayload;
  return { correlationId, status: typeof doc.status === "string" ? doc.status : "unknown", text };
}
