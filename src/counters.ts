import type { DecodeFailure } from "./mapping/payload.js";

/** Why a message was not mirrored; each reason is a counter in diagnostics and metrics. */
export type RejectReason =
  | "malformedTopic"
  | "unknownFamily"
  | "unknownId"
  | "deviceLimit"
  | "payloadTooLarge"
  | "unmappedLimit"
  | DecodeFailure;

export const REJECT_REASONS: readonly RejectReason[] = [
  "malformedTopic",
  "unknownFamily",
  "unknownId",
  "deviceLimit",
  "payloadTooLarge",
  "unmappedLimit",
  "invalidUtf8",
  "empty",
  "invalidJson",
  "noValue",
  "badTimestamp",
  "badQuality",
  "typeMismatch",
  "outOfRange",
  "notFinite",
];

/** The gateway's running totals; plain fields so the hot path pays one increment each. */
export class IngestCounters {
  received = 0;
  decoded = 0;
  rejected = 0;
  readonly rejectedBy = new Map<RejectReason, number>(REJECT_REASONS.map((r) => [r, 0]));
  /** Distinct topics seen that the catalog does not know (bounded, see MqttToOpcua). */
  unknownTopics = 0;
  brokerReconnects = 0;

  reject(reason: RejectReason): void {
    this.rejected++;
    this.rejectedBy.set(reason, (this.rejectedBy.get(reason) ?? 0) + 1);
  }
}
