import type { StatusCode, UAObject, UAVariable, Variant } from "node-opcua";
import type { AggregateValues, Computation } from "../mapping/aggregates.js";
import type { JournalEvent, JournalQuery, JournalRow } from "../mapping/journal-types.js";
import type { DataTypeName, PointDef } from "../model/catalog-types.js";
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
    /** The client's CommandId argument; empty: the dispatcher makes one. */
    commandId?: string,
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

/** A value coerced to its point's type (mapping/coerce), or null: no value. */
export type PointValue = number | boolean | string | Date | null;

/**
 * Where the point mirror writes (DeviceNodes with the point writer): a device's node, a point's
 * variable, and a point's value, status and timestamps in one step. The other way round from the
 * ports above (the adapter offers it, the bridge uses it): the handles are the adapter's and opaque
 * to the mirror, so that its state machine runs without a server (test/unit/point-mirror.test.ts).
 */
export interface PointSink<Node = UAObject, Variable = UAVariable, Value = Variant> {
  /** The device's node, created on first use. */
  device(id: DeviceId): Node;
  /** The variable mirrored from `topic`, created with status BadWaitingForInitialData. */
  variable(device: Node, id: DeviceId, point: PointDef, topic: string): Variable;
  /** The value as `write` takes it; built once per fresh value and written again with each status. */
  value(dataType: DataTypeName, value: PointValue): Value;
  /** A null source time keeps the previous one (a status change of an unchanged value). */
  write(
    variable: Variable,
    value: Value,
    status: StatusCode,
    sourceTimestamp: Date | null,
    serverTime: Date,
  ): void;
}

/** One stored value of a point, as HistoryRead returns it. */
export interface HistoryValue {
  value: PointValue;
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
  /**
   * A processed or at-time read (mapping/aggregates.ts) over the point's stored values, computed
   * off the main thread; null when the store never had the point.
   */
  compute(topic: string, computation: Computation): Promise<AggregateValues> | null;
}

/** The event journal in the history store (the app wires src/history's store to it). */
export interface JournalPort {
  appendEvent(event: JournalEvent): void;
  readEvents(query: JournalQuery): JournalRow[];
}
