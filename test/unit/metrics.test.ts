import { describe, expect, it } from "vitest";
import { CommandDispatcher } from "../../src/bridge/command-dispatcher.js";
import { GatewayMetrics } from "../../src/http/metrics.js";
import { CommandCounters, type CommandOutcomeKind, IngestCounters } from "../../src/mapping/counters.js";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { loadCommands } from "../../src/model/command-catalog-loader.js";
import type { BrokerLink } from "../../src/mqtt/broker-link.js";
import { getLogger, silenceLogging } from "../../src/shared/logger.js";
import { DEFAULT_CATALOG_FILE, DEFAULT_COMMANDS_FILE } from "../../src/shared/paths.js";

silenceLogging();

function metricsOf(counters = new IngestCounters(), commands = new CommandCounters()) {
  return new GatewayMetrics({
    counters,
    commands: () => commands,
    brokerConnected: () => true,
    refusedSubscriptions: () => 0,
    deviceCount: () => 2,
    pointCount: () => 884,
    eventListenerErrors: () => 0,
    opcua: () => ({
      sessions: 3,
      subscriptions: 4,
      channels: 5,
      rejectedSessions: 1,
      preSessionClosed: { timeout: 6, bytes: 7 },
    }),
  });
}

const lines = async (m: GatewayMetrics) => (await m.scrape()).body.split("\n");

describe("Prometheus metrics", () => {
  it("read the gateway's own totals at scrape time", async () => {
    const counters = new IngestCounters();
    const metrics = metricsOf(counters);
    counters.received = 5;
    counters.decodedIn("11");
    counters.decodedIn("11");
    counters.decodedIn("48");
    counters.reject("invalidJson", "11/5/3WA/F1/ETU");
    counters.reject("malformedTopic", "hello");
    counters.brokerReconnects = 2;
    const text = await lines(metrics);
    expect(text).toEqual(
      expect.arrayContaining([
        "# TYPE smartgear_messages_received_total counter",
        "smartgear_messages_received_total 5",
        "smartgear_messages_decoded_total 3",
        'smartgear_messages_rejected_total{reason="invalidJson"} 1',
        'smartgear_messages_rejected_total{reason="malformedTopic"} 1',
        'smartgear_messages_rejected_total{reason="deviceLimit"} 0',
        'smartgear_messages_total{family="11",outcome="decoded"} 2',
        'smartgear_messages_total{family="11",outcome="rejected"} 1',
        'smartgear_messages_total{family="48",outcome="decoded"} 1',
        'smartgear_messages_total{family="other",outcome="rejected"} 1',
        "smartgear_decode_errors_total 1",
        "smartgear_broker_reconnects_total 2",
        "smartgear_broker_connected 1",
        "smartgear_devices 2",
        "smartgear_points 884",
        "smartgear_opcua_sessions 3",
        "smartgear_opcua_subscriptions 4",
        "smartgear_opcua_secure_channels 5",
        "smartgear_opcua_rejected_sessions_total 1",
        'smartgear_opcua_presession_closed_total{reason="timeout"} 6',
        'smartgear_opcua_presession_closed_total{reason="bytes"} 7',
      ]),
    );
    // Later scrapes follow the totals, not add to them.
    counters.received = 7;
    expect(await lines(metrics)).toContain("smartgear_messages_received_total 7");
  });

  it("keep the families of bogus topics bounded", () => {
    const counters = new IngestCounters();
    for (let f = 100; f < 200; f++) counters.reject("unknownFamily", `${f}/1/a/b/c`);
    expect(counters.byFamily.size).toBeLessThanOrEqual(33);
    expect(counters.byFamily.get("other")?.rejected).toBeGreaterThan(60);
  });

  it("give every gateway a registry of its own", async () => {
    const a = metricsOf();
    const b = metricsOf();
    a.observeCommand(12, "succeeded");
    expect(await lines(a)).toContain('smartgear_command_duration_seconds_count{outcome="succeeded"} 1');
    expect(await lines(b)).not.toContain('smartgear_command_duration_seconds_count{outcome="succeeded"} 1');
  });

  it("count commands by outcome and observe their latency in seconds", async () => {
    const commands = new CommandCounters();
    const metrics = metricsOf(new IngestCounters(), commands);
    commands.succeeded = 2;
    commands.timedOut = 1;
    commands.unacknowledged = 3;
    metrics.observeCommand(3, "succeeded");
    metrics.observeCommand(40, "succeeded");
    metrics.observeCommand(5000, "timedOut");
    const text = await lines(metrics);
    expect(text).toEqual(
      expect.arrayContaining([
        'smartgear_commands_total{outcome="succeeded"} 2',
        'smartgear_commands_total{outcome="timedOut"} 1',
        'smartgear_commands_total{outcome="rejected"} 0',
        "smartgear_commands_unacknowledged 3",
        'smartgear_command_duration_seconds_bucket{le="0.005",outcome="succeeded"} 1',
        'smartgear_command_duration_seconds_bucket{le="0.05",outcome="succeeded"} 2',
        'smartgear_command_duration_seconds_count{outcome="timedOut"} 1',
        'smartgear_command_duration_seconds_sum{outcome="timedOut"} 5',
      ]),
    );
  });
});

describe("the command hook of CommandDispatcher", () => {
  const catalog = loadCatalog(DEFAULT_CATALOG_FILE);
  const resetMax = loadCommands(DEFAULT_COMMANDS_FILE, catalog).find((c) => c.name === "ResetMaxValues")!;
  const disconnected = { connected: false } as BrokerLink;
  const device = { deviceType: "3WA", deviceName: "F1", deviceSource: "ETU" };

  it("reports every finished call with its latency and outcome", async () => {
    const seen: [number, CommandOutcomeKind][] = [];
    const dispatcher = new CommandDispatcher(
      disconnected,
      getLogger("test"),
      getLogger("test:audit"),
      (ms, outcome) => seen.push([ms, outcome]),
    );
    const operator = { user: "otto", session: "s1", roles: ["Operator"] as const, secure: true };
    await dispatcher.call(resetMax, device, ["THD"], operator);
    await dispatcher.call(resetMax, device, ["THD"], { ...operator, roles: ["Observer"] });
    expect(seen.map(([, outcome]) => outcome)).toEqual(["noCommunication", "rejected"]);
    expect(seen.every(([ms]) => ms >= 0 && ms < 1000)).toBe(true);
    expect(dispatcher.counters).toMatchObject({ calls: 2, noCommunication: 1, rejected: 1 });
  });
});
