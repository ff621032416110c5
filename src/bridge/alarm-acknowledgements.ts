import type { PointDef } from "../model/catalog-types.js";
import type { CommandDef } from "../model/command-catalog-types.js";
import type { DeviceId } from "../model/device-identity.js";
import type { AckState } from "../opcua/alarm-nodes.js";
import type { Caller, CommandPort } from "../opcua/ports.js";

/**
 * The caller of the command an alarm's Acknowledge or Confirm becomes. node-opcua has let only a
 * caller with Call permission (Operator and above) acknowledge, and its event does not say who:
 * the audit line names the OPC UA method instead of a user.
 */
export const ALARM_ACKNOWLEDGEMENT_CALLER: Caller = Object.freeze({
  user: "(OPC UA Acknowledge/Confirm)",
  session: "",
  roles: Object.freeze(["Operator"] as const),
  secure: true,
});

/**
 * Tells the device of each Acknowledge and Confirm of an alarm point, as the command the command
 * catalog names for that point (`acknowledgeOf`); an alarm without one stays in the OPC UA server.
 */
export function alarmAcknowledgementRouter(
  commands: readonly CommandDef[],
  port: CommandPort,
): (point: PointDef, device: DeviceId, state: AckState, comment: string) => void {
  const byPoint = new Map(commands.filter((c) => c.acknowledgeOf).map((c) => [c.acknowledgeOf!, c]));
  return (point, device, state, comment) => {
    const command = byPoint.get(point.topicId);
    if (command) void port.call(command, device, [state, comment], ALARM_ACKNOWLEDGEMENT_CALLER);
  };
}
