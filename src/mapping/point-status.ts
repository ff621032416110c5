import type { StatusCode } from "node-opcua";
import { StatusCodes } from "../shared/node-opcua.js";

/**
 * The one table that turns a gateway condition into the StatusCode a client sees on a mirrored
 * variable. Codes and meanings are those of OPC UA Part 4, 7.39 (StatusCode) and Part 8, 6.3.
 */
export const POINT_STATUS = {
  /** No value has arrived since the point was created (Part 8: BadWaitingForInitialData). */
  noValueYet: StatusCodes.BadWaitingForInitialData,
  /** A fresh value with no quality of its own, or quality good. */
  good: StatusCodes.Good,
  /** A fresh value the device marked uncertain. */
  uncertain: StatusCodes.Uncertain,
  /** A fresh value the device marked bad. */
  bad: StatusCodes.Bad,
  /** Broker connection lost; the last value is kept (Part 8: UncertainNoCommunicationLastUsableValue). */
  connectionLostWithValue: StatusCodes.UncertainNoCommunicationLastUsableValue,
  /** Broker connection lost before any value arrived (Part 8: BadNoCommunication). */
  connectionLostNoValue: StatusCodes.BadNoCommunication,
  /** No update within the point's stale time; the last value is kept (Part 8: UncertainLastUsableValue). */
  stale: StatusCodes.UncertainLastUsableValue,
  /**
   * Restored at start from the history store: the last value stored before the restart, with its
   * original source timestamp, until a fresh one arrives (Part 8: UncertainLastUsableValue,
   * "whatever was updating this value has stopped doing so").
   */
  restored: StatusCodes.UncertainLastUsableValue,
  /** The payload could not be decoded or coerced to the point's type; the last value is kept. */
  decodeError: StatusCodes.BadDecodingError,
  /**
   * The broker refused the subscription that would bring the point (its ACL): no value can come
   * until it is fixed (Part 8, 6.3.2: BadConfigurationError, a configuration problem that affects
   * the usefulness of the value). Not BadUserAccessDenied or BadNotReadable: those say the OPC UA
   * client's user or the node's AccessLevel forbid the read, and the client would look there.
   */
  subscriptionRefused: StatusCodes.BadConfigurationError,
} as const satisfies Record<string, StatusCode>;

export type PayloadQuality = "good" | "uncertain" | "bad";

export function statusOfQuality(q: PayloadQuality): StatusCode {
  return q === "good" ? POINT_STATUS.good : q === "uncertain" ? POINT_STATUS.uncertain : POINT_STATUS.bad;
}
