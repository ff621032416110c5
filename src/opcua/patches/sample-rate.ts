import type { UAVariable } from "node-opcua";
import {
  AttributeIds,
  defaultServerCapabilities,
  MonitoredItem,
  NodeClass,
} from "../../shared/node-opcua.js";

interface MonitoredItemInternals {
  itemToMonitor: { attributeId: AttributeIds };
  node: UAVariable | null;
  _exceptionBased: boolean;
  _stop_sampling(): void;
  modify(timestampsToReturn: unknown, parameters: { samplingInterval: number } | null): unknown;
}

let installed = false;

/**
 * Makes what the server advertises and what it revises agree on a samplingInterval of 0 (OPC UA
 * Part 4 5.12.1.2: 0 is the fastest practical rate, exception-based where the server supports it;
 * Part 5 6.3.2: MinSupportedSampleRate is the least the server supports, 0 included).
 *
 * node-opcua 2.182 revises a requested 0 on a variable whose MinimumSamplingInterval is 0 to the
 * server's minSupportedSampleRate (0 here, see opcua-server.ts) and then delivers every change.
 * - Its Server object reports that rate raised to at least
 *   defaultServerCapabilities.minSupportedSampleRate (100): a client read 100 and was revised 50.
 *   Without that floor it reports the rate itself.
 * - ModifyMonitoredItems asking 0 of an item sampled by timer keeps it sampled, revised 50 ms, so
 *   changes between two samples were lost, where CreateMonitoredItems would have answered 0. Here
 *   its timer is stopped while node-opcua still knows its interval (its shared timers are keyed by
 *   it) and the item marked exception-based; node-opcua's modify then revises 0 to 0 and restarts
 *   it on the variable's changes, as it does for an item created that way. Its queue is emptied,
 *   as node-opcua's modify empties it on any change of interval.
 */
export function honourSampleRateZero(): void {
  defaultServerCapabilities.minSupportedSampleRate = 0;
  if (installed) return;
  installed = true;
  const proto = MonitoredItem.prototype as unknown as MonitoredItemInternals;
  const modify = proto.modify;
  proto.modify = function (this: MonitoredItemInternals, timestampsToReturn, parameters) {
    if (
      parameters?.samplingInterval === 0 &&
      this.itemToMonitor.attributeId === AttributeIds.Value &&
      this.node?.nodeClass === NodeClass.Variable &&
      this.node.minimumSamplingInterval === 0 &&
      !this._exceptionBased
    ) {
      this._stop_sampling();
      this._exceptionBased = true;
    }
    return modify.call(this, timestampsToReturn, parameters);
  };
}
