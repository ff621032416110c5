import { StatusTopics } from "../mapping/device-status-topic.js";
import type { GatewayConfig } from "./config-types.js";

type Subscriptions = GatewayConfig["mqtt"]["subscriptions"];

/**
 * What the gateway subscribes to at its broker: mqtt.subscriptions, and with mapping.statusTopic
 * the filter of every device's status topic (QoS 1) beside them, so that the broker link, the
 * session it keeps and the SUBACK it checks see one list.
 */
export function brokerSubscriptions(config: GatewayConfig): Subscriptions {
  const { statusTopic } = config.mapping;
  if (!statusTopic) return config.mqtt.subscriptions;
  return [...config.mqtt.subscriptions, { topic: new StatusTopics(statusTopic).filter, qos: 1 }];
}
