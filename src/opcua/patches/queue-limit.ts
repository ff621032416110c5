import { AttributeIds, MonitoredItem } from "../../shared/node-opcua.js";

let installed = false;
let limit = 5000;
let eventLimit = 5000;

/**
 * Caps the queue of every monitored item at `maxQueueSize` values (opcua.limits.maxMonitoredItemQueueSize).
 *
 * A client that stops sending Publish requests is owed, per monitored item, up to its queueSize
 * values (the oldest are discarded beyond it), and they stay in memory until the subscription's
 * lifetime runs out: 300 to 400 bytes each (measured, test/reliability/hostile-clients.test.ts).
 * node-opcua 2.182 revises a requested queueSize to at most 5,000 whatever the server's
 * MaxMonitoredItemsQueueSize capability says, so one client could hold 2 MB per item. This revises
 * it to the configured limit instead (the CreateMonitoredItems and ModifyMonitoredItems results
 * report the revised size), making the worst case maxMonitoredItems × (~1.6 KB + (maxMonitoredItemQueueSize
 * − 1) × ~310 B) (measured: `npm run soak -- --only monitored-items`).
 * Event monitored items have their own cap (opcua.limits.maxEventQueueSize). The limits are per
 * process: the last server created sets them.
 */
export function limitMonitoredItemQueues(maxQueueSize: number, maxEventQueueSize: number): void {
  limit = maxQueueSize;
  eventLimit = maxEventQueueSize;
  if (installed) return;
  installed = true;
  type Item = { queueSize: number; itemToMonitor: { attributeId: AttributeIds } };
  const proto = MonitoredItem.prototype as unknown as {
    _set_parameters(this: Item, parameters: unknown): void;
  };
  const set = proto._set_parameters;
  proto._set_parameters = function (this: Item, parameters: unknown) {
    set.call(this, parameters);
    // An event item needs room for a ConditionRefresh burst (every active alarm at once); events
    // come only with alarm transitions, values with every message.
    const cap = this.itemToMonitor.attributeId === AttributeIds.EventNotifier ? eventLimit : limit;
    this.queueSize = Math.min(this.queueSize, cap);
  };
}
