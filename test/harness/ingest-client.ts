import { Writable } from "node:stream";
import winston from "winston";
import { buildConfig } from "../../src/config/config-loader.js";
import type { SessionTakeover, SubscriptionState } from "../../src/mqtt/broker-link.js";
import { IngestClient } from "../../src/mqtt/ingest-client.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";
import { testEnv } from "./gateway.js";

/**
 * IngestClient on its own, with its log lines captured as JSON objects and what it told its
 * handlers recorded: the topics received, the broker's answers to the subscriptions, takeovers.
 */
export async function ingestClientOf(yaml: string): Promise<{
  client: IngestClient;
  logs: Record<string, unknown>[];
  logText: () => string;
  connected: () => boolean;
  /** Connections made, and the reason of each one lost, in order. */
  connects: () => number;
  disconnects: string[];
  received: string[];
  subscriptions: SubscriptionState[];
  takeovers: SessionTakeover[];
  stop(): Promise<void>;
}> {
  const { config, problems } = buildConfig(parseYamlText(yaml, "test.yaml"), testEnv(yaml));
  if (!config) throw new Error(JSON.stringify(problems));
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = winston.createLogger({
    level: "debug",
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  const client = new IngestClient(config, logger);
  let up = false;
  let connects = 0;
  const disconnects: string[] = [];
  const received: string[] = [];
  const subscriptions: SubscriptionState[] = [];
  const takeovers: SessionTakeover[] = [];
  await client.start({
    message: (topic) => received.push(topic),
    reply: () => {},
    connected: () => {
      up = true;
      connects++;
    },
    disconnected: (reason) => {
      up = false;
      disconnects.push(reason);
    },
    subscriptions: (state) => subscriptions.push(state),
    sessionTakenOver: (takeover) => takeovers.push(takeover),
  });
  return {
    client,
    get logs() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    logText: () => lines.join(""),
    connected: () => up,
    connects: () => connects,
    disconnects,
    received,
    subscriptions,
    takeovers,
    stop: () => client.stop(),
  };
}
