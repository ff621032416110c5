import { brokerSubscriptions } from "../config/broker-subscriptions.js";
import type { GatewayConfig } from "../config/config-types.js";
import type { IngestCounters } from "../mapping/counters.js";
import { deepFreeze } from "../shared/deep-freeze.js";
import { getLogger } from "../shared/logger.js";
import type { BrokerLink } from "./broker-link.js";
import { EmbeddedBroker } from "./embedded-broker.js";
import { IngestClient } from "./ingest-client.js";
import { IngestThread } from "./ingest-thread.js";

/**
 * The broker link the configuration asks for: the embedded broker when mqtt.url is empty, else a
 * client of that broker, in a worker thread with mqtt.ingestThread. Each subscribes to
 * brokerSubscriptions(config) and `more` (what the bridge needs beside, e.g. shared
 * acknowledgements). `counters` takes the embedded broker's refusals.
 */
export function createBrokerLink(
  config: GatewayConfig,
  counters: IngestCounters,
  more: GatewayConfig["mqtt"]["subscriptions"] = [],
): BrokerLink {
  const linked = deepFreeze({
    ...config,
    mqtt: { ...config.mqtt, subscriptions: [...brokerSubscriptions(config), ...more] },
  });
  if (!config.mqtt.url) return new EmbeddedBroker(linked, getLogger("gateway:broker"), counters);
  return config.mqtt.ingestThread
    ? new IngestThread(linked, getLogger("gateway:mqtt"))
    : new IngestClient(linked, getLogger("gateway:mqtt"));
}
