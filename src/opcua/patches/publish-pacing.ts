import { Subscription } from "../../shared/node-opcua.js";

let installed = false;

/**
 * Keeps node-opcua's subscriptions to their publishing interval under continuous updates.
 *
 * After each NotificationMessage, node-opcua 2.182 answers the next queued PublishRequest at once
 * whenever any monitored item has changed since, not only when the last message could not hold
 * everything (MoreNotifications). With values changing all the time, a client with several
 * Publish requests in flight then gets a response per request (measured: ~180/s for a 100 ms
 * interval), and every response walks all monitored items: at 10,000 items that cost most of a
 * core. OPC UA Part 4, 5.13.1.1 has the server send at most one message per publishing cycle
 * unless more notifications are waiting than one message holds; this restores that rule: what
 * is already harvested and pending goes out now, new changes wait for the next cycle.
 */
export function pacePublishingToInterval(): void {
  if (installed) return;
  installed = true;
  const proto = Subscription.prototype as unknown as {
    _flushRemainingNotifications(this: { hasPendingNotifications: boolean }): void;
  };
  const flush = proto._flushRemainingNotifications;
  proto._flushRemainingNotifications = function (this: { hasPendingNotifications: boolean }) {
    if (this.hasPendingNotifications) flush.call(this);
  };
}
