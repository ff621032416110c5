import type {
  LocalizedText,
  Namespace,
  UAAlarmConditionEx,
  UAExclusiveLimitAlarmEx,
  UAObject,
  UAVariable,
} from "node-opcua";
import type { GatewayConfig } from "../config/config-types.js";
import { POINT_STATUS } from "../mapping/point-status.js";
import type { PointDef } from "../model/catalog-types.js";
import { type DeviceId, deviceKeyOf } from "../model/device-identity.js";
import type { Logger } from "../shared/logger.js";
import { ConditionInfo, DataType, DataValue, StatusCodes } from "../shared/node-opcua.js";
import { deviceKeyOfNodeId, deviceNodeKey } from "./device-nodes.js";
import { type EventFields, unpackFields } from "./event-fields.js";
import { stringNodeId } from "./node-ids.js";
import { gateLimitAlarmInput } from "./patches/limit-alarm-input.js";
import { applyPeerAcknowledgement } from "./patches/peer-acknowledgement.js";

export type AckState = "Acknowledged" | "Confirmed";

/** What became of an acknowledgement another member of a redundant set published. */
export type SharedAckOutcome = "applied" | "unchanged" | "noCondition";

/** The parts of node-opcua's alarm implementations used here (not in their public types). */
interface OffNormalAlarm {
  updateAlarmState(isActive: boolean, message: string): void;
}

/** A condition's state as its last event before a restart left it (the journal's open_conditions). */
export interface RestoredCondition {
  /** The ConditionId, as NodeId text. */
  condition: string;
  /** Its last event's fields, packed (event-fields.ts). */
  fields: Uint8Array;
}

/** The device key (deviceKeyOf) of a condition's ConditionId as RestoredCondition gives it, "" if none. */
export function conditionDeviceKey(condition: string): string {
  return deviceKeyOfNodeId(condition.slice(condition.indexOf(";s=") + 3)) ?? "";
}

type BaseAlarmOptions = Omit<Parameters<Namespace["instantiateOffNormalAlarm"]>[0], "normalState">;

/** One limit alarm of config alarms.limits. */
export type LimitAlarmConfig = GatewayConfig["alarms"]["limits"][number];

/**
 * Every alarm point of the catalog becomes an OPC UA condition on its device object
 * (OffNormalAlarmType, Part 9 5.8.23: active while the flag differs from its normal state,
 * false), with the device as its source, the catalog's severity, a message naming device and
 * point, and the time of the value that changed it: a retained alarm replayed at connect shows
 * its original time, not the moment the gateway saw it. Acknowledge and Confirm come with the
 * type; ConditionRefresh on the Server object replays active ones to a new client.
 */
export class AlarmNodes {
  /** Every condition built, for the web console's Alarms page (one per alarm point of a device that sent it). */
  readonly conditions: UAAlarmConditionEx[] = [];
  private normalState: UAVariable | null = null;
  /** Conditions to bring back as their device's points are restored at start (restoreAtStart). */
  private restored = new Map<string, Uint8Array>();
  /** Alarm-point conditions by device key and topic id, for acknowledgements seen on the broker. */
  private readonly byPoint = new Map<string, UAAlarmConditionEx>();
  /** Set while applying one: its `acknowledged` event is not a new acknowledgement to publish. */
  private applyingShared = false;

  constructor(
    private readonly ns: Namespace,
    private readonly logger: Logger,
    /** Told of each Acknowledge and Confirm, e.g. to publish it to the device. */
    private readonly acknowledged: (
      point: PointDef,
      device: DeviceId,
      state: AckState,
      comment: string,
    ) => void = () => {},
    /** Told of each condition brought back, with the EventId it now carries (the journal has it). */
    private readonly broughtBack: (condition: string, eventId: Buffer) => void = () => {},
  ) {}

  /**
   * Conditions that were active, unacknowledged or unconfirmed when the gateway stopped: each is
   * built with its point's variable, before any value, in the state it had (README, Alarms); an
   * empty list ends the restore (what is left belongs to devices not restored).
   */
  restoreAtStart(conditions: readonly RestoredCondition[]): void {
    this.restored = new Map(conditions.map((c) => [c.condition, c.fields]));
  }

  /** Binds Acknowledge, Confirm, ConditionRefresh and the other A&C methods of the standard types. */
  install(): void {
    this.ns.addressSpace.installAlarmsAndConditionsService();
  }

  /**
   * Sets the condition up with the point's first value: a condition is some sixty nodes, and a
   * declared device that never publishes its alarm flags should not carry them for nothing.
   */
  watch(variable: UAVariable, point: PointDef, id: DeviceId, deviceNode: UAObject): void {
    const build = () => {
      const alarm = this.create(variable, point, id, deviceNode, "", (options) =>
        this.ns.instantiateOffNormalAlarm({ ...options, normalState: this.normalStateNode() }),
      );
      this.byPoint.set(conditionKey(id, point.topicId), alarm);
      return alarm;
    };
    // node-opcua's input listener takes a restored one from here: a restored value (not Good)
    // changes nothing, the device's next one keeps it active or returns it to normal.
    if (this.bringBackIfOpen(id, point.browseName, build)) return;
    this.onFirstValue(variable, (dataValue) => {
      const alarm = build();
      // Created after the change it reacts to: evaluate that first value now.
      if (dataValue.statusCode.isGood() && dataValue.value.value === true)
        (alarm as unknown as OffNormalAlarm).updateAlarmState(true, "");
    });
  }

  /**
   * A limit alarm on an analog point (config alarms.limits): ExclusiveLimitAlarmType (Part 9
   * 5.8.18), in the HighHigh/High/Low/LowLow state its value falls in.
   */
  watchLimit(
    variable: UAVariable,
    point: PointDef,
    id: DeviceId,
    deviceNode: UAObject,
    limit: LimitAlarmConfig,
  ): void {
    let evaluate: (dataValue: DataValue) => void = () => {};
    const build = () => {
      const alarm = this.create(
        variable,
        point,
        id,
        deviceNode,
        "Limit",
        (options) =>
          this.ns.instantiateExclusiveLimitAlarm("ExclusiveLimitAlarmType", {
            ...options,
            ...(limit.highHigh !== undefined ? { highHighLimit: limit.highHigh } : {}),
            ...(limit.lowLow !== undefined ? { lowLowLimit: limit.lowLow } : {}),
            // The type wants both; an absent one is a limit the value never crosses.
            highLimit: limit.high ?? Number.MAX_VALUE,
            lowLimit: limit.low ?? -Number.MAX_VALUE,
          }),
        limit.severity,
      );
      // A lost broker says nothing about the temperature: only good values change the alarm's state.
      evaluate = gateLimitAlarmInput(alarm, (dv) => dv.statusCode.isGood());
      return alarm;
    };
    // An active one recorded before the journal kept LimitState: in no limit state, a value back
    // within the limits would leave it active; its first value builds it as if it were new.
    const restored = this.bringBackIfOpen(
      id,
      `${point.browseName}Limit`,
      build,
      (fields) => fields.get("activeState.id")?.value !== true || fields.has("limitState.currentState"),
    );
    if (restored) {
      // Limits changed between runs: what the restored value means under the new ones is known now,
      // as node-opcua re-evaluates when a limit changes at run time (README, Alarms: after a restart).
      if (limitsChanged(restored.alarm as unknown as UAExclusiveLimitAlarmEx, restored.fields))
        this.onRestoredValue(variable, (dataValue) =>
          evaluate(new DataValue({ value: dataValue.value, statusCode: StatusCodes.Good })),
        );
      return;
    }
    this.onFirstValue(variable, (dataValue) => {
      build();
      // Created after the change it reacts to: evaluate that first value now.
      evaluate(dataValue);
    });
  }

  /**
   * An Acknowledge or Confirm of an alarm point that the broker delivered, whoever published it
   * (README, Redundancy: a member applies what another one's client acknowledged). One already in
   * that state (this member's own, coming back) is left as it is, and nothing is published again.
   */
  applyShared(id: DeviceId, topicId: string, state: AckState, comment: string): SharedAckOutcome {
    const alarm = this.byPoint.get(conditionKey(id, topicId));
    if (!alarm) return "noCondition";
    this.applyingShared = true;
    try {
      return applyPeerAcknowledgement(alarm, state, comment) ? "applied" : "unchanged";
    } finally {
      this.applyingShared = false;
    }
  }

  /**
   * Builds the condition of `name` on the device now, as its last event left it, if that was open when
   * the gateway stopped (restoreAtStart) and `usable` takes that event; null when not.
   */
  private bringBackIfOpen(
    id: DeviceId,
    name: string,
    build: () => UAAlarmConditionEx,
    usable: (fields: EventFields) => boolean = () => true,
  ): { alarm: UAAlarmConditionEx; fields: EventFields } | null {
    const key = conditionNodeId(this.ns, id, name).toString();
    const packed = this.restored.get(key);
    if (!packed) return null;
    this.restored.delete(key);
    const fields = unpackFields(packed);
    if (!usable(fields)) return null;
    const alarm = build();
    bringBack(alarm, fields);
    this.broughtBack(key, alarm.currentBranch().getEventId());
    return { alarm, fields };
  }

  /** The variable's value restored from history at start, if it is the next one written. */
  private onRestoredValue(variable: UAVariable, then: (dataValue: DataValue) => void): void {
    variable.once("value_changed", (dataValue: DataValue) => {
      if (dataValue.statusCode.equals(POINT_STATUS.restored)) then(dataValue);
    });
  }

  private onFirstValue(variable: UAVariable, then: (dataValue: DataValue) => void): void {
    const first = (dataValue: DataValue) => {
      // A value restored from history at start is not one the device sent since: the condition waits
      // for that (a restart with 100,000 restored points would otherwise build every condition).
      // Before a fresh value, nothing else shows this status (stale follows a fresh value).
      if (dataValue.value.dataType === DataType.Null || dataValue.statusCode.equals(POINT_STATUS.restored))
        return;
      variable.removeListener("value_changed", first);
      then(dataValue);
    };
    variable.on("value_changed", first);
  }

  private create(
    variable: UAVariable,
    point: PointDef,
    id: DeviceId,
    deviceNode: UAObject,
    suffix: string,
    instantiate: (options: BaseAlarmOptions) => UAAlarmConditionEx,
    severityOverride?: number,
  ): UAAlarmConditionEx {
    const key = deviceKeyOf(id);
    // Part 9 5.9: a condition source hangs below the Server object by HasEventSource.
    if (deviceNode.getEventSourceOfs().length === 0)
      this.ns.addressSpace.rootFolder.objects.server.addReference({
        referenceType: "HasEventSource",
        nodeId: deviceNode.nodeId,
      });
    const name = `${point.browseName}${suffix}`;
    const alarm = instantiate({
      nodeId: conditionNodeId(this.ns, id, name),
      browseName: `${name}Condition`,
      componentOf: deviceNode,
      conditionSource: deviceNode,
      conditionName: name,
      inputNode: variable,
      optionals: ["ConfirmedState", "Confirm"],
    });
    // An operator's alarm list shows the source: the device's whole name, not its last level.
    alarm.sourceName.setValueFromSource({ dataType: DataType.String, value: key });
    const severity = severityOverride ?? point.severity ?? 500;
    const unit = point.unit ? ` ${point.unit.displayName}` : "";
    alarm.calculateConditionInfo = (state: string | null, isActive: boolean) => {
      // The input's own DataValue: its time (a retained value keeps its original one) and value.
      const input = variable.readValue();
      const time = input.sourceTimestamp ?? new Date();
      const what = !isActive
        ? "back to normal"
        : suffix
          ? `${state ?? "active"} (${input.value.value}${unit})`
          : "active";
      const info = new ConditionInfo({
        message: `${key}: ${point.label} (${point.topicId}) ${what}`,
        severity: isActive ? severity : 0,
        quality: StatusCodes.Good,
        retain: true,
      });
      // raiseNewCondition reads time and receiveTime, which ConditionInfo's constructor drops.
      return Object.assign(info, { time, receiveTime: new Date() });
    };
    const on = (state: AckState) => (_eventId: unknown, comment: LocalizedText | null) => {
      const shared = this.applyingShared;
      this.logger.info(`alarm ${state.toLowerCase()}`, { device: key, point: point.topicId, shared });
      if (!shared) this.acknowledged(point, id, state, comment?.text ?? "");
    };
    alarm.on("acknowledged", on("Acknowledged"));
    alarm.on("confirmed", on("Confirmed"));
    this.conditions.push(alarm);
    return alarm;
  }

  /** One Boolean false for every alarm: the normal state of an alarm flag. */
  private normalStateNode(): UAVariable {
    this.normalState ??= this.ns.addVariable({
      nodeId: "s=Gateway/AlarmNormalState",
      browseName: "AlarmNormalState",
      organizedBy: this.ns.addressSpace.rootFolder.objects.server,
      dataType: "Boolean",
      value: { dataType: DataType.Boolean, value: false },
      description: "The normal state of every Sm@rtGear alarm flag: false",
    });
    return this.normalState;
  }
}

/**
 * Sets a new condition's current branch to the state its last event carried, without raising an
 * event (nothing happened: the gateway restarted): ActiveState with its original TransitionTime,
 * AckedState, ConfirmedState, Time, ReceiveTime, Severity, Message, Comment and ClientUserId,
 * Retain (Part 9 5.5.2) so that ConditionRefresh sends it (5.5.7).
 */
function bringBack(alarm: UAAlarmConditionEx, fields: EventFields): void {
  const value = <T>(key: string): T | undefined => (fields.get(key)?.value ?? undefined) as T | undefined;
  const branch = alarm.currentBranch();
  const activeSince = value<Date>("activeState.transitionTime") ?? value<Date>("time");
  // Its implementation takes the transition times (ConditionSnapshotImpl), its public type does not.
  (branch as unknown as { setActiveState(active: boolean, options: object): void }).setActiveState(
    value<boolean>("activeState.id") === true,
    {
      transitionTime: activeSince,
      effectiveTransitionTime: activeSince,
    },
  );
  branch.setAckedState(value<boolean>("ackedState.id") !== false);
  branch.setConfirmedState(value<boolean>("confirmedState.id") !== false);
  const time = value<Date>("time");
  if (time) branch.setTime(time);
  const receiveTime = value<Date>("receiveTime");
  if (receiveTime) branch.setReceiveTime(receiveTime);
  const severity = value<number>("severity");
  if (severity !== undefined) branch.setSeverity(severity);
  const message = value<LocalizedText>("message");
  if (message) branch.setMessage(message);
  const comment = value<LocalizedText>("comment");
  if (comment) branch.setComment(comment);
  const user = value<string>("clientUserId");
  if (user) branch.setClientUserId(user);
  // An ExclusiveLimitAlarm's state (the journal records it, EventJournal): the device's next value
  // moves it from there, with an event only if the state changes.
  const limitState = (alarm as unknown as Partial<UAExclusiveLimitAlarmEx>).limitState;
  const state = value<LocalizedText>("limitState.currentState")?.text;
  if (limitState && state && limitState.getStateByName(state)) limitState.setState(state);
  branch.setRetain(true);
  // An EventId for the refreshes and the Acknowledge to name (a new condition has none yet).
  branch.renewEventId();
}

/** The limits an ExclusiveLimitAlarm's properties hold (those configured absent are not there). */
const LIMITS = ["highHighLimit", "highLimit", "lowLimit", "lowLowLimit"] as const;

/** Whether the alarm's configured limits differ from those its last event before the restart carried. */
function limitsChanged(alarm: UAExclusiveLimitAlarmEx, fields: EventFields): boolean {
  return LIMITS.some((name) => alarm[name]?.readValue().value.value !== fields.get(name)?.value);
}

const conditionNodeId = (ns: Namespace, id: DeviceId, name: string) =>
  stringNodeId(ns, `${deviceNodeKey(id)}/Conditions/${name}`);

const conditionKey = (id: DeviceId, topicId: string) => `${deviceKeyOf(id)}\n${topicId}`;
