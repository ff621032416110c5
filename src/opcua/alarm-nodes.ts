import {
  ConditionInfo,
  DataType,
  type DataValue,
  type LocalizedText,
  type Namespace,
  StatusCodes,
  type UAObject,
  type UAVariable,
} from "node-opcua";
import type { Logger } from "../logger.js";
import type { PointDef } from "../model/catalog-types.js";
import type { DeviceId } from "./device-nodes.js";

export type AckState = "Acknowledged" | "Confirmed";

/** The part of node-opcua's OffNormalAlarm implementation used here (not in its public types). */
interface UAOffNormalAlarmEx {
  updateAlarmState(isActive: boolean, message: string): void;
}

/**
 * Every alarm point of the catalog becomes an OPC UA condition on its device object
 * (OffNormalAlarmType, Part 9 5.8.23: active while the flag differs from its normal state,
 * false), with the device as its source, the catalog's severity, a message naming device and
 * point, and the time of the value that changed it: a retained alarm replayed at connect shows
 * its original time, not the moment the gateway saw it. Acknowledge and Confirm come with the
 * type; ConditionRefresh on the Server object replays active ones to a new client.
 */
export class AlarmNodes {
  private normalState: UAVariable | null = null;

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
  ) {}

  /** Binds Acknowledge, Confirm, ConditionRefresh and the other A&C methods of the standard types. */
  install(): void {
    this.ns.addressSpace.installAlarmsAndConditionsService();
  }

  /**
   * Sets the condition up with the point's first value: a condition is some sixty nodes, and a
   * declared device that never publishes its alarm flags should not carry them for nothing.
   */
  watch(variable: UAVariable, point: PointDef, id: DeviceId, deviceNode: UAObject): void {
    const first = (dataValue: DataValue) => {
      if (dataValue.value.dataType === DataType.Null) return;
      variable.removeListener("value_changed", first);
      const alarm = this.create(variable, point, id, deviceNode);
      // Created after the change it reacts to: evaluate that first value now.
      if (dataValue.statusCode.isGood() && dataValue.value.value === true) alarm.updateAlarmState(true, "");
    };
    variable.on("value_changed", first);
  }

  private create(
    variable: UAVariable,
    point: PointDef,
    id: DeviceId,
    deviceNode: UAObject,
  ): UAOffNormalAlarmEx {
    const key = `${id.deviceType}/${id.deviceName}/${id.deviceSource}`;
    // Part 9 5.9: a condition source hangs below the Server object by HasEventSource.
    if (deviceNode.getEventSourceOfs().length === 0)
      this.ns.addressSpace.rootFolder.objects.server.addReference({
        referenceType: "HasEventSource",
        nodeId: deviceNode.nodeId,
      });
    const alarm = this.ns.instantiateOffNormalAlarm({
      nodeId: `s=Devices/${key}/Conditions/${point.browseName}`,
      browseName: `${point.browseName}Condition`,
      componentOf: deviceNode,
      conditionSource: deviceNode,
      conditionName: point.browseName,
      inputNode: variable,
      normalState: this.normalStateNode(),
      optionals: ["ConfirmedState", "Confirm"],
    });
    // An operator's alarm list shows the source: the device's whole name, not its last level.
    alarm.sourceName.setValueFromSource({ dataType: DataType.String, value: key });
    const severity = point.severity ?? 500;
    alarm.calculateConditionInfo = (_state: string | null, isActive: boolean) => {
      const time = variable.readValue().sourceTimestamp ?? new Date();
      const info = new ConditionInfo({
        message: `${key}: ${point.label} (${point.topicId}) ${isActive ? "active" : "back to normal"}`,
        severity: isActive ? severity : 0,
        quality: StatusCodes.Good,
        retain: true,
      });
      // raiseNewCondition reads time and receiveTime, which ConditionInfo's constructor drops.
      return Object.assign(info, { time, receiveTime: new Date() });
    };
    const on = (state: AckState) => (_eventId: unknown, comment: LocalizedText | null) => {
      this.logger.info(`alarm ${state.toLowerCase()}`, { device: key, point: point.topicId });
      this.acknowledged(point, id, state, comment?.text ?? "");
    };
    alarm.on("acknowledged", on("Acknowledged"));
    alarm.on("confirmed", on("Confirmed"));
    return alarm as unknown as UAOffNormalAlarmEx;
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
