import { Subscription } from "node-opcua";
import { describe, expect, it } from "vitest";
import { pacePublishingToInterval } from "../../src/opcua/patches/publish-pacing.js";

/** The state of a subscription right after it sent a NotificationMessage, as node-opcua sees it. */
function subscriptionAfterPublish(pendingNotifications: boolean) {
  const calls: string[] = [];
  const fake = {
    state: 2, // NORMAL
    publishingEnabled: true,
    hasPendingNotifications: pendingNotifications,
    hasUncollectedMonitoredItemNotifications: true,
    publishEngine: {
      pendingPublishRequestCount: 3,
      feedReadySubscriptions: () => calls.push("publish now"),
    },
    process_subscription: () => calls.push("publish now"),
  };
  const flush = (Subscription.prototype as unknown as { _flushRemainingNotifications(this: unknown): void })
    ._flushRemainingNotifications;
  flush.call(fake);
  return calls;
}

describe("publishing paced to the publishing interval", () => {
  it("leaves changes that arrived after a message for the next publishing cycle", () => {
    pacePublishingToInterval();
    expect(subscriptionAfterPublish(false)).toEqual([]);
  });

  it("still sends at once what did not fit in the last message (MoreNotifications)", () => {
    pacePublishingToInterval();
    expect(subscriptionAfterPublish(true)).toEqual(["publish now"]);
  });
});
