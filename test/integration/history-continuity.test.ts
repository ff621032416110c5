import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttributeIds, type DataValue, resolveNodeId, StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { openDb } from "../../src/history/history-db.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { getLogger } from "../../src/shared/logger.js";
import { publish, startAedes } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf, readBelow, type TestClient, waitStatus } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const VOLTAGE = "11/5/3WA/Feeder 01/ETU";
const CURRENT = "11/6/3WA/Feeder 01/ETU";
const OLD = "11/5/3WA/Feeder 02/ETU";
/** An alarm flag of the same device (Phase1MaxTempAlarm) and the NodeId of its condition. */
const ALARM = "48/1/3WA/Feeder 01/ETU";
const CONDITION = "ns=2;s=Devices/3WA/Feeder 01/ETU/Conditions/Phase1MaxTempAlarm";
/** Another alarm flag of the device, never raised (Phase1LoadRatingAlarm), and its condition's NodeId. */
const QUIET_ALARM = "48/3/3WA/Feeder 01/ETU";
const QUIET_CONDITION = "ns=2;s=Devices/3WA/Feeder 01/ETU/Conditions/Phase1LoadRatingAlarm";
/** Source times of the published values: well before the restart, to tell them from server times. */
const SOURCE = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
/** history.forgetAfterDays of 6 s: the old device's last value is older at the restart, the feeder's not. */
const FORGET_S = 6;

describe("continuity: devices and last values come back after a restart (README, History)", () => {
  const { track, defer } = useCleanups();

  it("restores discovered devices with their NodeIds, last values and source times as UncertainLastUsableValue, Good again on a fresh value; a device silent longer than forgetAfterDays is gone", {
    timeout: 90_000,
  }, async () => {
    const folder = mkdtempSync(join(tmpdir(), "history-continuity-"));
    defer(async () => rmSync(folder, { recursive: true, force: true }));
    const broker = track(await startAedes());
    const yaml =
      `mqtt:\n  url: ${broker.url}\n  clientId: gw-continuity-${process.pid}\n  reconnectPeriod: 200\n` +
      `history:\n  folder: ${JSON.stringify(folder)}\n  flushInterval: 0.2\n  forgetAfterDays: ${FORGET_S / 86_400}\n`;
    const connected = async (client: TestClient) =>
      waitFor(
        "broker connected",
        async () => (await client.read("ns=2;s=Gateway/BrokerConnected")).value.value === true,
      );
    const value = (v: number, t = SOURCE) => JSON.stringify({ value: v, ts: new Date(t).toISOString() });

    const first = await startGateway(yaml);
    const before = await connectClient(first.endpointUrl);
    await connected(before);
    await publish(broker.url, [{ topic: OLD, payload: value(400) }]);
    await waitStatus(before, OLD, StatusCodes.Good);
    // The old device's value is received FORGET_S + 2 s before the feeder's.
    await new Promise((r) => setTimeout(r, (FORGET_S + 2) * 1000));
    await publish(broker.url, [
      { topic: VOLTAGE, payload: value(231.7) },
      { topic: CURRENT, payload: value(120.5, SOURCE + 1000) },
      { topic: ALARM, payload: JSON.stringify({ value: true, ts: new Date(SOURCE).toISOString() }) },
      { topic: QUIET_ALARM, payload: "false" },
    ]);
    await waitStatus(before, CURRENT, StatusCodes.Good);
    await waitStatus(before, QUIET_ALARM, StatusCodes.Good);
    await before.stop();
    await first.stop();

    const second = track(await startGateway(yaml));
    const client = track(await connectClient(second.endpointUrl));
    const voltage = await client.read(nodeOf(VOLTAGE));
    expect(voltage.statusCode).toEqual(StatusCodes.UncertainLastUsableValue);
    expect(voltage.value.value).toBeCloseTo(231.7, 5);
    expect(voltage.sourceTimestamp?.getTime()).toBe(SOURCE);
    const current = await client.read(nodeOf(CURRENT));
    expect(current.statusCode).toEqual(StatusCodes.UncertainLastUsableValue);
    expect(current.value.value).toBeCloseTo(120.5, 5);
    expect(current.sourceTimestamp?.getTime()).toBe(SOURCE + 1000);
    // Silent for longer than history.forgetAfterDays before the restart: not restored.
    expect((await client.read(nodeOf(OLD))).statusCode).toEqual(StatusCodes.BadNodeIdUnknown);
    expect(second.gateway.diagnostics()).toMatchObject({ devices: 1 });
    // An alarm flag's value comes back too. A condition left active (or unacknowledged) comes back
    // with it (README, Alarms: after a restart); one that never left its normal state waits for a
    // value the device sends, as it would have been built by its first (building every condition of
    // a restart cost 3 s of 60 devices).
    const conditionExists = async (nodeId: string) =>
      !(await client.session.read({ nodeId, attributeId: AttributeIds.BrowseName })).statusCode.equals(
        StatusCodes.BadNodeIdUnknown,
      );
    expect((await client.read(nodeOf(ALARM))).value.value).toBe(true);
    expect(await conditionExists(CONDITION)).toBe(true);
    expect(await conditionExists(QUIET_CONDITION)).toBe(false);

    await connected(client);
    await publish(broker.url, [{ topic: VOLTAGE, payload: "232.4" }]);
    await publish(broker.url, [{ topic: QUIET_ALARM, payload: "false" }]);
    await waitStatus(client, VOLTAGE, StatusCodes.Good);
    await waitStatus(client, QUIET_ALARM, StatusCodes.Good);
    expect(await conditionExists(QUIET_CONDITION)).toBe(true);
    expect((await client.read(nodeOf(VOLTAGE))).value.value).toBeCloseTo(232.4, 5);
    // The other point keeps saying it has not been updated since the restart.
    expect((await client.read(nodeOf(CURRENT))).statusCode).toEqual(StatusCodes.UncertainLastUsableValue);
  });

  it("makes a restored device when a client first names one of its nodes (Read, Browse, TranslateBrowsePath), before the background would (README, History: continuity)", {
    timeout: 60_000,
  }, async () => {
    const folder = mkdtempSync(join(tmpdir(), "history-continuity-"));
    defer(async () => rmSync(folder, { recursive: true, force: true }));
    const devices = ["Feeder 11", "Feeder 12", "Feeder 13"].map((name) => `3WA/${name}/ETU`);
    const left = new HistoryStore(
      { folder, flushInterval: 0.1, maxBacklog: 1000, retentionDays: 30, maxBytes: 1 << 30 },
      getLogger("test:history"),
    );
    left.start(true);
    for (const [i, device] of devices.entries())
      for (const topic of [`11/5/${device}`, `11/6/${device}`])
        left.append(
          left.pointId(topic),
          { value: 230 + i, sourceTime: SOURCE + i, serverTime: SOURCE + i, status: 0 },
          true,
        );
    await waitFor("written", () => left.counters.written === 6);
    await left.stop();

    const gw = track(await startGateway(`history:\n  folder: ${JSON.stringify(folder)}\n`));
    // Right after the start, before the background's first turn: counted, not made.
    const mirror = gw.gateway.ingest!;
    expect(mirror.pendingDevices).toBe(3);
    expect(gw.gateway.diagnostics()).toMatchObject({ devices: 3, points: 6 });
    // Held, so that only the requests below make the devices (stop cancels the background).
    mirror.stop();
    const restored = (dv: DataValue, i: number) => {
      expect(dv.statusCode).toEqual(StatusCodes.UncertainLastUsableValue);
      expect(dv.value.value).toBe(230 + i);
      expect(dv.sourceTimestamp?.getTime()).toBe(SOURCE + i);
    };
    // The address space's own lookup (what the services below end in).
    restored(gw.gateway.diagnostics().read(resolveNodeId(nodeOf(`11/5/${devices[0]}`))), 0);
    expect(mirror.pendingDevices).toBe(2);

    const client = track(await connectClient(gw.endpointUrl));
    // Browse of the device object: its catalog folders are there.
    expect(await client.browseNames(`ns=2;s=Devices/${devices[1]}`)).toContain("PowerQuality");
    expect(mirror.pendingDevices).toBe(1);
    // TranslateBrowsePath from the name folder, through the device object, to its variable.
    const [type, name, source] = devices[2]!.split("/");
    restored(
      await readBelow(
        client,
        `ns=2;s=Devices/${type}/${name}`,
        `/2:${source}/3:PowerQuality/3:Voltage/3:VoltageL2`,
      ),
      2,
    );
    expect(mirror.pendingDevices).toBe(0);
    for (const [i, device] of devices.entries()) restored(await client.read(nodeOf(`11/5/${device}`)), i);
    expect(gw.gateway.diagnostics()).toMatchObject({ devices: 3, points: 6 });
  });

  it("packs the values left waiting by a gateway down longer than 10 minutes once it has started (README, History: storage)", {
    timeout: 60_000,
  }, async () => {
    const folder = mkdtempSync(join(tmpdir(), "history-continuity-"));
    defer(async () => rmSync(folder, { recursive: true, force: true }));
    const down = Date.now() - 11 * 60_000;
    // The store as a gateway stopped 11 minutes ago leaves it: the voltage's value still in `recent`.
    const left = new HistoryStore(
      { folder, flushInterval: 0.1, maxBacklog: 1000, retentionDays: 30, maxBytes: 1 << 30 },
      getLogger("test:history"),
    );
    left.start(true);
    left.append(
      left.pointId(VOLTAGE),
      { value: 230.1, sourceTime: down, serverTime: down + 5, status: 0 },
      true,
    );
    await waitFor("written", () => left.counters.written === 1);
    await left.stop();
    const waiting = () => {
      const db = openDb(join(folder, "history.sqlite"));
      try {
        return db.prepare<[], number>("SELECT count(*) FROM recent").pluck().get();
      } finally {
        db.close();
      }
    };
    expect(waiting()).toBe(1);

    const gw = track(await startGateway(`history:\n  folder: ${JSON.stringify(folder)}\n`));
    const client = track(await connectClient(gw.endpointUrl));
    const voltage = await client.read(nodeOf(VOLTAGE));
    expect(voltage.statusCode).toEqual(StatusCodes.UncertainLastUsableValue);
    expect(voltage.sourceTimestamp?.getTime()).toBe(down);
    await waitFor("the waiting value packed", () => waiting() === 0, 20_000);
  });
});
