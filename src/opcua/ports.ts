import type { StatusCode, UAObject } from "node-opcua";
import type { DeviceAddress } from "../mapping/command-encoding.js";
import type { CommandDef } from "../model/command-catalog.js";
import type { RoleName } from "../security/role-names.js";
import type { DeviceId } from "./device-nodes.js";

/**
 * The ports of the OPC UA adapter: what it needs from the layer that wires it (the bridge), as
 * interfaces, so that opcua/ never imports bridge/ (README, Development: the dependency rule).
 */

/** Who calls: what the audit log records and what the role check needs. */
export interface Caller {
  user: string;
  session: string;
  roles: readonly RoleName[];
  /** The call came over a signed (or signed and encrypted) secure channel. */
  secure: boolean;
}

export interface CommandOutcome {
  status: StatusCode;
  inputArgumentResults?: StatusCode[];
  commandId: string;
  deviceStatus: string;
  reply: string;
}

/** Method calls and opted-in writes go out through this port (the bridge's CommandDispatcher). */
export interface CommandPort {
  call(
    command: CommandDef,
    device: DeviceAddress,
    args: readonly unknown[],
    caller: Caller,
  ): Promise<CommandOutcome>;
}

/** A read-only view of one device's activity, for its health and diagnostics nodes. */
export interface DeviceActivity extends Readonly<DeviceId> {
  readonly key: string;
  readonly node: UAObject;
  readonly declared: boolean;
  readonly messageCount: number;
  /** Epoch ms of the last message, 0 before the first. */
  readonly lastSeen: number;
}

/** One stored value of a point, as HistoryRead returns it. */
export interface HistoryValue {
  value: number | boolean | string | Date | null;
  /** Epoch ms. */
  sourceTime: number;
  /** Epoch ms. */
  serverTime: number;
  /** The OPC UA StatusCode value. */
  status: number;
}

/** Records of one point in [from, to] (epoch ms, both inclusive), in source-time order. */
export interface HistoryRange {
  from: number;
  to: number;
  forward: boolean;
  /** At most this many values after `skip`; 0: all. */
  limit: number;
  /** Values at the first time of the range (`from` forward, `to` in reverse) already returned. */
  skip: number;
}

/** The history store, as HistoryRead needs it (the app wires src/history's store to it). */
export interface HistoryPort {
  /** Values of the point mirrored from `topic`; null when the store never had one. */
  read(topic: string, range: HistoryRange): HistoryValue[] | null;
}
