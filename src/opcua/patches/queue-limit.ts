import { MonitoredItem } from "node-opcua";

let installed = false;
let limit = 5000;

/**
 * Caps the queue of every monitored item at `maxQueueSize` values (opcua.limits.maxMonitoredItemQueueSize).
 *
 * A client that stops sending Publish requests is owed, per monitored item, up to its queueSize
 * values (the oldest are discarded beyond it), and they stay in memory until the subscription's
 * lifetime runs out: about 400 bytes each (measured, test/reliability/hostile-clients.test.ts).
 * node-opcua 2.182 revises a requested queueSize to at most 5,000 whatever the server's
 * MaxMonitoredItemsQueueSize capability says, so one client could hold 2 MB per item. This revises
 * it to the configured limit instead (the CreateMonitoredItems and ModifyMonitoredItems results
 * report the revised size), making the worst case maxMonitoredItems × maxMonitoredItemQueueSize × ~400 B.
 * The limit is per process: the last server created sets it.
 */
export function limitMonitoredItemQueues(maxQueueSize: number): void {
  limit = maxQueueSize;
  if (installed) return;
  installed = true;
  const proto = MonitoredItem.prototype as unknown as {
    _set_parameters(this: { queueSize: number }, parameters: unknown): void;
  };
  const set = proto._set_parameters;
  proto._set_parameters = function (this: { queueSize: number }, parameters: unknown) {
    set.call(this, parameters);
    this.queueSize = Math.min(this.queueSize, limit);
  };
}
