import type { LocalizedText, UAAlarmConditionEx } from "node-opcua";
import { coerceLocalizedText } from "../../shared/node-opcua.js";

/** The methods node-opcua's Acknowledge and Confirm call (not in its public types). */
interface AcknowledgeableInternals {
  _acknowledge_branch(eventId: Buffer, comment: LocalizedText, branch: unknown, message: string): unknown;
  _confirm_branch(eventId: Buffer, comment: LocalizedText, branch: unknown, message: string): void;
}

/**
 * Acknowledges or confirms a condition's current branch as its own Acknowledge or Confirm method
 * would (Part 9 5.7.3, 5.7.4: AckedState, ConfirmedState, Retain, Comment, the audit event and the
 * new branch state event), for an acknowledgement another member of a redundant set received.
 * Returns false when the branch is already in that state, or not acknowledged before a Confirm.
 *
 * node-opcua 2.182 has no public call for a plain acknowledge (acknowledgeAndAutoConfirmBranch
 * confirms as well): its method handlers call `_acknowledge_branch` and `_confirm_branch`, which
 * also emit the `acknowledged` and `confirmed` events the caller must not take for a new one.
 */
export function applyPeerAcknowledgement(
  alarm: UAAlarmConditionEx,
  state: "Acknowledged" | "Confirmed",
  comment: string,
): boolean {
  const branch = alarm.currentBranch();
  const internals = alarm as unknown as AcknowledgeableInternals;
  const text = coerceLocalizedText(comment) as LocalizedText;
  if (state === "Acknowledged") {
    if (branch.getAckedState()) return false;
    internals._acknowledge_branch(branch.getEventId(), text, branch, "Server/Acknowledge");
    return true;
  }
  if (!branch.getAckedState() || branch.getConfirmedState()) return false;
  internals._confirm_branch(branch.getEventId(), text, branch, "Server/Confirm");
  return true;
}
