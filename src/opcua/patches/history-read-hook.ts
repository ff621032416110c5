import { createRequire } from "node:module";
import type {
  ExtensionObject,
  ISessionContext,
  StatusCode,
  TimestampsToReturn,
  UAObject,
  UAVariable,
  Variant,
} from "node-opcua";
import {
  AccessLevelFlag,
  EventNotifierFlags,
  HistoryReadResult,
  PermissionType,
  StatusCodes,
} from "../../shared/node-opcua.js";

/** What node-opcua hands a variable's history read besides the details. */
export interface ContinuationData {
  continuationPoint?: Buffer | null;
  releaseContinuationPoints?: boolean;
  /** The request's, added by passTimestampsToReturn (node-opcua does not pass it on). */
  timestampsToReturn?: TimestampsToReturn;
}

/**
 * node-opcua 2.182's AddressSpaceAccessor.historyReadNode(context, nodeToRead, details,
 * timestampsToReturn, continuationData) checks the request's TimestampsToReturn but does not
 * hand it to the variable: this adds it to the continuation data it does hand on, so that a
 * HistoryRead returns the timestamps asked for (Part 4 5.10.3) and a day of values asked with
 * Source carries a third fewer bytes for the client to decode. `accessor` is the server engine's
 * `addressSpaceAccessor`, patched on the instance.
 */
export function passTimestampsToReturn(accessor: object): void {
  const target = accessor as {
    historyReadNode(
      context: ISessionContext,
      nodeToRead: unknown,
      details: unknown,
      timestampsToReturn: TimestampsToReturn,
      continuationData: ContinuationData,
    ): Promise<HistoryReadResult>;
  };
  const original = target.historyReadNode;
  target.historyReadNode = function (context, nodeToRead, details, timestampsToReturn, continuationData) {
    return original.call(this, context, nodeToRead, details, timestampsToReturn, {
      ...continuationData,
      timestampsToReturn,
    });
  };
}

/** A variable's `_historyRead`, as node-opcua calls it: as a method of the variable. */
export type HistoryReadMethod = (
  this: UAVariable,
  context: ISessionContext,
  details: unknown,
  indexRange: unknown,
  dataEncoding: unknown,
  continuation: ContinuationData,
  callback: (err: Error | null, result: HistoryReadResult) => void,
) => void;

/**
 * The `_historyRead` of the variables whose HistoryReads `read` answers: one function for all of
 * them (node-opcua calls it as the variable's method), not a closure a variable (~100,000).
 *
 * node-opcua 2.182 passes a variable's HistoryRead to its `_historyRead(context, details,
 * indexRange, dataEncoding, continuationData, callback)` (UAVariableImpl.historyRead); its only
 * implementation, installHistoricalDataNode, keeps values in memory and adds an `HA Configuration`
 * object per variable. The permission check comes first, as node-opcua's own does (Part 4 5.10.3:
 * BadUserAccessDenied), but answers once (node-opcua's calls back twice when it refuses).
 */
export function historyReadMethod(
  read: (
    variable: UAVariable,
    context: ISessionContext,
    details: unknown,
    continuation: ContinuationData,
  ) => HistoryReadResult | Promise<HistoryReadResult>,
): HistoryReadMethod {
  return function (this: UAVariable, context, details, _indexRange, _dataEncoding, continuation, callback) {
    if (!(this as unknown as { canUserReadHistory(c: ISessionContext): boolean }).canUserReadHistory(context))
      callback(null, new HistoryReadResult({ statusCode: StatusCodes.BadUserAccessDenied }));
    else {
      const answer = read(this, context, details, continuation);
      // Processed and at-time reads are computed by the history thread: answered when it is done.
      if (answer instanceof Promise) answer.then((r) => callback(null, r));
      else callback(null, answer);
    }
  };
}

/**
 * Answers every HistoryRead of `variable` with `method` (historyReadMethod), and makes it
 * historizing: `Historizing` true and `HistoryRead` in its AccessLevel and UserAccessLevel
 * (Part 3 5.6.2, Part 11 5.2).
 */
export function routeHistoryReads(variable: UAVariable, method: HistoryReadMethod): void {
  const target = variable as unknown as {
    historizing: boolean;
    accessLevel: number;
    userAccessLevel: number;
    _historyRead: HistoryReadMethod;
  };
  target.historizing = true;
  target.accessLevel |= AccessLevelFlag.HistoryRead;
  target.userAccessLevel |= AccessLevelFlag.HistoryRead;
  target._historyRead = method;
}

/**
 * Answers every HistoryRead of `object` with `read`, and makes it a HistoricalEventNotifier:
 * `HistoryRead` in its EventNotifier (Part 3 5.4, Part 11 5.3).
 *
 * node-opcua 2.182 calls `historyRead(context, details, indexRange, dataEncoding, continuationData)`
 * on whatever node a HistoryRead names (AddressSpaceAccessor.historyReadNode) and throws, failing the
 * whole request, when an object has none: objects get one here. The ReadHistory permission is
 * checked first, as for a variable (Part 3 5.9.2, Part 4 5.10.3: BadUserAccessDenied).
 */
export function routeEventHistoryReads(
  object: UAObject,
  read: (context: ISessionContext, details: unknown, continuation: ContinuationData) => HistoryReadResult,
): void {
  object.setEventNotifier(object.eventNotifier | EventNotifierFlags.HistoryRead);
  (object as unknown as { historyRead: unknown }).historyRead = async (
    context: ISessionContext,
    details: unknown,
    _indexRange: unknown,
    _dataEncoding: unknown,
    continuation: ContinuationData,
  ): Promise<HistoryReadResult> =>
    context.checkPermission(object, PermissionType.ReadHistory)
      ? read(context, details, continuation)
      : new HistoryReadResult({ statusCode: StatusCodes.BadUserAccessDenied });
}

/** node-opcua's own generated types: HistoryEvent and HistoryEventFieldList are not re-exported by "node-opcua". */
const types = createRequire(createRequire(import.meta.url).resolve("node-opcua"))("node-opcua-types") as {
  HistoryEvent: new (options: { events: unknown[] }) => ExtensionObject;
  HistoryEventFieldList: new (options: { eventFields: Variant[] }) => object;
};

/** A HistoryRead result of events (Part 11 6.6.4 HistoryEvent): one field list an event. */
export function historyEventResult(
  statusCode: StatusCode,
  events: Variant[][],
  continuationPoint?: Buffer,
): HistoryReadResult {
  return new HistoryReadResult({
    statusCode,
    continuationPoint,
    historyData: new types.HistoryEvent({
      events: events.map((eventFields) => new types.HistoryEventFieldList({ eventFields })),
    }),
  });
}
