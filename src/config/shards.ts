import { filtersOverlap } from "../mapping/topic-filter.js";
import type { GatewayConfig } from "./config-types.js";

/** Gateways of one site that mirror the same topics: a shard, each file a member of its redundant set. */
export interface Shard {
  filters: string[];
  files: string[];
}

/**
 * The shards of a site from its members' configurations: members with the same mqtt.subscriptions
 * (in any order) are one shard. mapping.statusTopic is left out: every shard subscribes to every
 * device's status, and a status of a device a gateway does not mirror is ignored.
 */
export function groupShards(members: { file: string; config: GatewayConfig }[]): Shard[] {
  const shards = new Map<string, Shard>();
  for (const { file, config } of members) {
    const filters = [...new Set(config.mqtt.subscriptions.map((s) => s.topic))].sort();
    const key = JSON.stringify(filters);
    const shard = shards.get(key) ?? { filters, files: [] };
    shard.files.push(file);
    shards.set(key, shard);
  }
  return [...shards.values()];
}

/**
 * Every pair of filters of two different shards that one topic can match: a device publishing on
 * it would be mirrored by both shards, under the same NodeIds, and a SCADA would see it twice.
 */
export function shardOverlaps(shards: Shard[]): string[] {
  const found: string[] = [];
  shards.forEach((a, i) => {
    for (const b of shards.slice(i + 1))
      for (const fa of a.filters)
        for (const fb of b.filters)
          if (filtersOverlap(fa, fb))
            found.push(`'${fa}' (${a.files.join(", ")}) and '${fb}' (${b.files.join(", ")}) overlap`);
  });
  return found;
}
