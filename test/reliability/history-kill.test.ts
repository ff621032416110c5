import { fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { DB_FILE, openDb } from "../../src/history/history-db.js";
import { HistoryReport } from "../../src/history/history-report.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { getLogger } from "../../src/shared/logger.js";
import { freePort, publish } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGatewayProcess } from "../harness/cli.js";
import { compiled } from "../harness/compiled.js";
import { TEST_PKI } from "../harness/gateway.js";
import { nodeOf, readBelow, waitStatus } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const FLUSH_S = 0.5;
const CHILD_T0 = Date.UTC(2026, 10, 1);
const CHILD_TOPIC = "11/5/3WA/Kill/ETU";

/**
 * A gateway's config on fixed free ports (a child process cannot be told to pick and say), history
 * in `dir`, plus `extra` lines of YAML.
 */
async function gatewayConfig(dir: string, extra: string[] = []) {
  const [brokerPort, opcuaPort] = [await freePort(), await freePort()];
  const file = join(dir, "gateway.yaml");
  writeFileSync(
    file,
    [
      `broker: { port: ${brokerPort} }`,
      `opcua: { port: ${opcuaPort}, pkiFolder: ${JSON.stringify(TEST_PKI)}, allowAnonymous: true, securityPolicies: [None] }`,
      "http: { enabled: false }",
      `history: { folder: ${JSON.stringify(join(dir, "history"))}, flushInterval: ${FLUSH_S} }`,
      "log: { format: json }",
      ...extra,
      "",
    ].join("\n"),
  );
  return {
    file,
    brokerUrl: `mqtt://127.0.0.1:${brokerPort}`,
    endpoint: `opc.tcp://127.0.0.1:${opcuaPort}/UA/SmartGear`,
  };
}

describe("the history store killed with SIGKILL while it writes", () => {
  const { defer } = useCleanups();

  it("reopens intact and has lost at most the last flush interval's values", {
    timeout: 60_000,
  }, async () => {
    const folder = mkdtempSync(join(tmpdir(), "history-kill-"));
    defer(async () => rmSync(folder, { recursive: true, force: true }));
    const [writer] = compiled("test/harness/history-writer-child.ts");
    const child = fork(writer!, [folder, String(FLUSH_S), CHILD_TOPIC, String(CHILD_T0)], { execArgv: [] });
    defer(async () => void child.kill("SIGKILL"));
    let appended = -1;
    child.on("message", (m) => {
      appended = m as number;
    });
    // Long enough for several flushes and a packing of chunks (128 values a chunk).
    await new Promise((r) => setTimeout(r, 4000));
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    expect(appended).toBeGreaterThan(1000);

    const db = openDb(join(folder, DB_FILE));
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
    const store = new HistoryStore(
      { folder, flushInterval: 1, maxBacklog: 1000, retentionDays: 36500, maxBytes: 2 ** 40 },
      getLogger("test:history"),
    );
    expect(store.start()).toBe(true);
    defer(() => store.stop());
    const values = store.read(CHILD_TOPIC, {
      from: CHILD_T0,
      to: CHILD_T0 + 3_600_000,
      forward: true,
      limit: 0,
      skip: 0,
    })!;
    // A prefix, without gaps or repeats: what was committed is whole.
    expect(values.map((v) => v.value)).toEqual(values.map((_, i) => i));
    // Lost: what was appended in the last flush interval (plus a commit and the 50 ms report), no more.
    // Generous for a loaded machine: the commit of a flush may wait for the CPU.
    const lost = appended - (values.length - 1);
    expect(lost).toBeLessThanOrEqual(FLUSH_S * 1000 * 4);
  });

  it("a gateway killed with SIGKILL comes back with its discovered device, its last committed value and source time as UncertainLastUsableValue", {
    timeout: 90_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "history-kill-gateway-"));
    defer(async () => rmSync(dir, { recursive: true, force: true }));
    const { file: config, brokerUrl, endpoint } = await gatewayConfig(dir);
    const topic = "11/5/3WA/Killed 01/ETU";
    const source = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const start = () => startGatewayProcess(config, endpoint, defer);

    const first = await start();
    await publish(brokerUrl, [
      { topic, payload: JSON.stringify({ value: 231.7, ts: new Date(source).toISOString() }) },
    ]);
    await waitStatus(first.client, topic, StatusCodes.Good);
    // Killed once the value is committed (within a flush interval and a commit, several on a loaded
    // machine): read as `history export` reads, without the gateway's lock.
    await waitFor(
      "the value committed",
      () => {
        const report = HistoryReport.open(join(dir, "history"));
        try {
          return [...report.records(topic, source, source + 1)].length === 1 || undefined;
        } finally {
          report.close();
        }
      },
      30_000,
      FLUSH_S * 1000,
    );
    const exited = new Promise((r) => first.child.once("exit", r));
    first.child.kill("SIGKILL");
    await exited;

    const second = await start();
    const dv = await second.client.read(nodeOf(topic));
    expect(dv.statusCode).toEqual(StatusCodes.UncertainLastUsableValue);
    expect(dv.value.value).toBeCloseTo(231.7, 5);
    expect(dv.sourceTimestamp?.getTime()).toBe(source);
  });
  it("a gateway killed with SIGKILL while values flow: the store passes integrity_check and holds every value received up to the kill less a flush interval", {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "history-kill-flow-"));
    defer(async () => rmSync(dir, { recursive: true, force: true }));
    const { file: config, brokerUrl, endpoint } = await gatewayConfig(dir);
    const { child } = await startGatewayProcess(config, endpoint, defer);
    const topics = Array.from({ length: 10 }, (_, k) => `11/${1 + k}/3WA/Flow 01/ETU`);
    const publisher = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
    defer(async () => void publisher.end(true));
    // Per topic, value i at source time `sent[i]` (the publisher's clock): 10 topics, ~50 values a second each.
    const sent = topics.map(() => [] as number[]);
    const flow = setInterval(() => {
      const now = Date.now();
      topics.forEach((topic, k) => {
        const i = sent[k]!.push(now) - 1;
        publisher.publish(topic, JSON.stringify({ value: i, ts: new Date(now).toISOString() }), { qos: 1 });
      });
    }, 20);
    defer(async () => clearInterval(flow));
    await new Promise((r) => setTimeout(r, 6000));
    const exited = new Promise((r) => child.once("exit", r));
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await exited;
    clearInterval(flow);
    expect(sent[0]!.length).toBeGreaterThan(200);

    const db = openDb(join(dir, "history", DB_FILE));
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
    // Received and mirrored within a second of being sent (a loaded machine), then committed at the
    // next flush: everything sent before this is stored, gap-free, from the first value on.
    const cutoff = killedAt - FLUSH_S * 1000 - 2000;
    const report = HistoryReport.open(join(dir, "history"));
    defer(async () => report.close());
    topics.forEach((topic, k) => {
      const due = sent[k]!.filter((t) => t <= cutoff).length;
      const stored = [...report.records(topic, sent[k]![0]!, killedAt + 1)].map((r) => r.value);
      expect(due).toBeGreaterThan(100);
      expect(stored.slice(0, due), topic).toEqual(Array.from({ length: due }, (_, i) => i));
    });
  });

  it.each([
    {
      kind: "alarm flag",
      topic: "48/1/3WA/Killed 02/ETU",
      condition: "ns=2;s=Devices/3WA/Killed 02/ETU/Conditions/Phase1MaxTempAlarm",
      value: true,
      extra: [],
      limitState: undefined,
    },
    {
      kind: "limit alarm, in its limit state",
      topic: "48/50/3WA/Killed 03/ETU",
      condition: "ns=2;s=Devices/3WA/Killed 03/ETU/Conditions/Phase1TemperatureLimit",
      value: 115,
      extra: ['alarms: { limits: [{ point: "48/50", high: 90, highHigh: 110 }] }'],
      limitState: "HighHigh",
    },
  ])(
    "a gateway killed with SIGKILL brings its active unacknowledged $kind back with its original time",
    {
      timeout: 90_000,
    },
    async ({ topic, condition, value, extra, limitState }) => {
      const dir = mkdtempSync(join(tmpdir(), "history-kill-alarm-"));
      defer(async () => rmSync(dir, { recursive: true, force: true }));
      const { file: config, brokerUrl, endpoint } = await gatewayConfig(dir, extra);
      const raised = Math.floor(Date.now() / 1000) * 1000 - 60_000;
      const start = () => startGatewayProcess(config, endpoint, defer);

      const first = await start();
      await publish(brokerUrl, [
        { topic, payload: JSON.stringify({ value, ts: new Date(raised).toISOString() }) },
      ]);
      await waitStatus(first.client, topic, StatusCodes.Good);
      await new Promise((r) => setTimeout(r, FLUSH_S * 1000 * 6));
      const exited = new Promise((r) => first.child.once("exit", r));
      first.child.kill("SIGKILL");
      await exited;

      const { client } = await start();
      // An anonymous client may not call ConditionRefresh (Call); it reads the condition's state.
      const read = async (path: string) => (await readBelow(client, condition, path)).value.value;
      expect(await read("/ActiveState/Id")).toBe(true);
      expect(await read("/AckedState/Id")).toBe(false);
      expect(await read("/Retain")).toBe(true);
      expect(((await read("/Time")) as Date).getTime()).toBe(raised);
      if (limitState) expect((await read("/LimitState/CurrentState"))?.text).toBe(limitState);
    },
  );
});
