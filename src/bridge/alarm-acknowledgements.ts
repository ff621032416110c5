import { StatusTopics } from "../mapping/device-status-topic.js";
import type { PointDef } from "../model/catalog-types.js";
import type { CommandDef } from "../model/command-catalog-types.js";
import type { DeviceId } from "../model/device-identity.js";
import type { AckState, AlarmNodes, SharedAckOutcome } from "../opcua/alarm-nodes.js";
import type { Caller, CommandPort } from "../opcua/ports.js";
import type { Refusal } from "./point-mirror.js";

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

/**
 * Acknowledgements every member of a redundant set applies, whoever published them (README,
 * Redundancy): each acknowledgement command's topic (command catalog `acknowledgements`, the
 * family and id of its alarm point filled in) is subscribed at its QoS, and what arrives there is
 * acknowledged or confirmed on this member's condition as well. A member's own comes back to it
 * and finds its condition in that state already.
 */
export class SharedAcknowledgements {
  /** What became of each acknowledgement seen on the broker. */
  readonly counts: Record<SharedAckOutcome, number> = { applied: 0, unchanged: 0, noCondition: 0 };
  private readonly topics: { topics: StatusTopics; topicId: string; qos: 0 | 1 | 2 }[];

  constructor(
    commands: readonly CommandDef[],
    private readonly alarms: Pick<AlarmNodes, "applyShared">,
  ) {
    this.topics = commands
      .filter((c) => c.acknowledgeOf)
      .map((c) => ({
        topics: new StatusTopics(c.topic.replaceAll("{family}", c.family).replaceAll("{id}", c.id)),
        topicId: c.acknowledgeOf!,
        qos: c.qos,
      }));
  }

  /** The broker subscriptions that bring every member's acknowledgements. */
  get subscriptions(): { topic: string; qos: 0 | 1 | 2 }[] {
    return this.topics.map((t) => ({ topic: t.topics.filter, qos: t.qos }));
  }

  /**
   * A message on a topic that is no point's: false when it is no acknowledgement topic either, true
   * once applied (or found unchanged), the refusal when its payload says no state.
   */
  take(topic: string, payload: Uint8Array): boolean | Refusal {
    for (const { topics, topicId } of this.topics) {
      const device = topics.match(topic);
      if (!device) continue;
      const ack = parseAcknowledgement(payload);
      if ("reason" in ack) return ack;
      this.counts[this.alarms.applyShared(device, topicId, ack.state, ack.comment)]++;
      return true;
    }
    return false;
  }
}

/** `{"state": "Acknowledged"|"Confirmed", "comment": …}`, as alarmAcknowledgementRouter publishes it. */
function parseAcknowledgement(payload: Uint8Array): { state: AckState; comment: string } | Refusal {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload).toString("utf8"));
  } catch {
    return { reason: "invalidJson", detail: "an acknowledgement is a JSON object" };
  }
  const { state, comment } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  if (state !== "Acknowledged" && state !== "Confirmed")
    return { reason: "noValue", detail: 'an acknowledgement has "state": "Acknowledged" or "Confirmed"' };
  return { state, comment: typeof comment === "string" ? comment : "" };
}
