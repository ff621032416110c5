import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { CommandDispatcher } from "../../src/bridge/command-dispatcher.js";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { loadCommands } from "../../src/model/command-catalog-loader.js";
import { type BrokerLink, NotConnectedError } from "../../src/mqtt/broker-link.js";
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
    // The handshake is MQTT.js's until the next session: the gateway says it is still open.
    expect(dispatcher.counters.unacknowledged).toBe(1);
  });

  it("counts a publish as unacknowledged until the broker completes its handshake or it fails", async () => {
    let complete = () => {};
    const slow: BrokerLink = { ...stuckSource, publish: () => new Promise<void>((r) => (complete = r)) };
    const dispatcher = new CommandDispatcher(slow, getLogger("test"), getLogger("test"));
    const quick = { ...command, reply: { wait: false, timeoutMs: 5000 } };
    const outcome = dispatcher.call(quick, device, ["All"], operator);
    await new Promise((r) => setTimeout(r, 50));
    expect(dispatcher.counters.unacknowledged).toBe(1);
    complete();
    expect((await outcome).status).toEqual(StatusCodes.Good);
    expect(dispatcher.counters.unacknowledged).toBe(0);

    const refusing: BrokerLink = {
      ...stuckSource,
      publish: () => Promise.reject(new NotConnectedError("x")),
    };
    const refused = new CommandDispatcher(refusing, getLogger("test"), getLogger("test"));
    expect((await refused.call(quick, device, ["All"], operator)).status).toEqual(
      StatusCodes.BadNoCommunication,
    );
    expect(refused.counters.unacknowledged).toBe(0);
  });
});
