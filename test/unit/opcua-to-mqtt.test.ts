import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { CommandDispatcher } from "../../src/bridge/command-dispatcher.js";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { loadCommands } from "../../src/model/command-catalog-loader.js";
import type { BrokerLink } from "../../src/mqtt/broker-link.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";
import { DEFAULT_COMMANDS_FILE } from "../../src/shared/paths.js";

silenceLogging();
const command = loadCommands(DEFAULT_COMMANDS_FILE, loadCatalog()).find((c) => c.name === "ResetMaxValues")!;
const device = { deviceType: "3WA", deviceName: "F1", deviceSource: "ETU" };
const operator = { user: "otto", session: "s1", roles: ["Operator" as const], secure: true };

/** A broker connection whose QoS 2 handshake never completes (cut between PUBLISH and PUBCOMP). */
const stuckSource: BrokerLink = {
  start: async () => {},
  stop: async () => {},
  connected: true,
  protocol: "5",
  publish: () => new Promise<void>(() => {}),
  replyTopic: "reply/gw",
  responseTopicSupported: true,
};

describe("a command whose publish handshake does not complete", () => {
  it("answers BadTimeout within the command's timeout instead of waiting for the next session", async () => {
    const dispatcher = new CommandDispatcher(stuckSource, getLogger("test"), getLogger("test"));
    const quick = { ...command, reply: { wait: true, timeoutMs: 200 } };
    const started = Date.now();
    const outcome = await dispatcher.call(quick, device, ["All"], operator);
    expect(outcome.status).toEqual(StatusCodes.BadTimeout);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(dispatcher.counters.timedOut).toBe(1);
  });
});
