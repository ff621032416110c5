import type { StatusCode, UAObject } from "node-opcua";
import type { CommandDef } from "../model/command-catalog-types.js";
import type { DeviceId } from "../model/device-identity.js";
import type { RoleName } from "../security/role-names.js";

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
    device: DeviceId,
    args: readonly unknown[],
    caller: Caller,
  ): Promise<CommandOutcome>;
}

/** A read-only view of one device's activity, for its health and diagnostics nodes. */
export interface DeviceActivity extends DeviceId {
  readonly key: string;
  readonly node: UAObject;
  readonly declared: boolean;
  readonly messageCount: number;
  /** Epoch ms of the last message, 0 before the first. */
  readonly lastSeen: number;
}
