import { afterEach, describe, expect, it, vi } from "vitest";
import winston from "winston";
import { ServiceLevelMonitor } from "../../src/bridge/service-level-monitor.js";
import { buildConfig } from "../../src/config/config-loader.js";
import { freshShare, SERVICE_LEVEL, serviceLevel } from "../../src/mapping/service-level.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";

/** OPC UA Part 4 6.6.2.4.2, Table 103: 0 Maintenance, 1 NoData, 2–199 Degraded, 200–255 Healthy. */
const RULES = { preference: 55, healthyFreshShare: 0.9, warmUp: 10, degradedBacklog: 4 };
const HEALTHY = {
  stopping: false,
  connected: true,
  connectedForMs: 60_000,
  freshPoints: 100,
  knownPoints: 100,
  backlogBatches: 0,
};

describe("ServiceLevel (README, Redundancy)", () => {
  it("is 200 + preference when connected, warmed up, fresh and keeping up: the primary ranks first", () => {
    expect(serviceLevel(HEALTHY, RULES)).toBe(255);
    expect(serviceLevel(HEALTHY, { ...RULES, preference: 0 })).toBe(200);
    expect(serviceLevel({ ...HEALTHY, freshPoints: 90 }, RULES)).toBe(255);
  });

  it("is Maintenance (0) while stopping and NoData (1) without the broker, whatever else", () => {
    expect(serviceLevel({ ...HEALTHY, stopping: true }, RULES)).toBe(SERVICE_LEVEL.maintenance);
    expect(serviceLevel({ ...HEALTHY, connected: false }, RULES)).toBe(SERVICE_LEVEL.noData);
  });

  it("is degraded, ranked by the fresh share before the preference, when stale, warming up or behind", () => {
    const primaryHalfFresh = serviceLevel({ ...HEALTHY, freshPoints: 50 }, RULES);
    const secondaryAllFresh = serviceLevel(HEALTHY, { ...RULES, preference: 0, warmUp: 120 });
    expect(primaryHalfFresh).toBe(2 + 94 + 9);
    expect(secondaryAllFresh).toBe(2 + 188);
    expect(secondaryAllFresh).toBeGreaterThan(primaryHalfFresh);
    expect(serviceLevel({ ...HEALTHY, backlogBatches: 4 }, RULES)).toBe(199);
    expect(serviceLevel({ ...HEALTHY, connectedForMs: 9_999 }, RULES)).toBe(199);
    // A member that knows no value yet (just started, nothing restored) has nothing fresh to offer.
    expect(serviceLevel({ ...HEALTHY, freshPoints: 0, knownPoints: 0 }, RULES)).toBe(2 + 9);
    expect(freshShare(0, 0)).toBe(0);
  });

  it("stays within its sub-ranges for every input", () => {
    for (const preference of [0, 27, 55])
      for (const fresh of [0, 1, 50, 89, 90, 100])
        for (const backlogBatches of [0, 8]) {
          const level = serviceLevel(
            { ...HEALTHY, freshPoints: fresh, backlogBatches },
            { ...RULES, preference },
          );
          expect(level).toBeGreaterThanOrEqual(SERVICE_LEVEL.degradedMin);
          expect(level).toBeLessThanOrEqual(255);
          expect(level >= 200).toBe(fresh >= 90 && backlogBatches < 4);
        }
  });
});

describe("redundancy configuration", () => {
  const problemsOf = (yaml: string) =>
    buildConfig(parseYamlText(yaml, "/etc/gateway.yaml"), {}).problems.map((p) => `${p.line}: ${p.message}`);

  it("refuses a member without a shared broker, its own ApplicationUri, or that URI in the set", () => {
    expect(problemsOf("redundancy:\n  enabled: true\n")).toEqual([
      "2: redundancy.enabled needs mqtt.url: the members of a set share one broker",
      "2: redundancy.enabled needs opcua.applicationUri: each member its own",
      "1: redundancy.serverUris names every member of the set: two or more",
    ]);
    expect(
      problemsOf(
        "mqtt: { url: mqtt://broker:1883 }\nopcua: { applicationUri: urn:a }\nredundancy:\n  enabled: true\n  serverUris: [urn:b, urn:c]\n",
      ),
    ).toEqual(["5: redundancy.serverUris must hold this member's opcua.applicationUri (urn:a)"]);
    expect(
      problemsOf(
        "mqtt: { url: mqtt://broker:1883 }\nopcua: { applicationUri: urn:a }\nredundancy: { enabled: true, serverUris: [urn:a, urn:b] }\n",
      ),
    ).toEqual([]);
  });
});

describe("the ServiceLevel monitor", () => {
  afterEach(() => vi.useRealTimers());

  it("writes each change once: NoData at once on a broker loss, healthy after warm-up, Maintenance on stop", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const written: number[] = [];
    const freshness = { fresh: 10, known: 10 };
    const monitor = new ServiceLevelMonitor(
      { ...RULES, warmUp: 2 },
      { freshness: () => freshness, backlogBatches: async () => 0 },
      (level) => written.push(level),
      winston.createLogger({ silent: true }),
    );
    monitor.brokerConnected();
    monitor.start(true);
    expect(written).toEqual([199]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(written).toEqual([199, 255]);
    // The point mirror has turned every point uncertain before the monitor hears of the loss.
    freshness.fresh = 0;
    monitor.brokerLost();
    expect(written).toEqual([199, 255, 1]);
    monitor.brokerConnected();
    expect(written).toEqual([199, 255, 1, 2 + 9]);
    freshness.fresh = 5;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(written).toEqual([199, 255, 1, 2 + 9, 2 + 94 + 9]);
    monitor.stop();
    expect(written.at(-1)).toBe(0);
    expect(monitor.level).toBe(0);
  });
});
