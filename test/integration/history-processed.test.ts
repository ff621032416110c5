import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import {
  AggregateConfiguration,
  AttributeIds,
  type DataValue,
  type HistoryData,
  HistoryReadRequest,
  type HistoryReadResult,
  makeBrowsePath,
  ObjectIds,
  ReadAtTimeDetails,
  ReadProcessedDetails,
  ReadRawModifiedDetails,
  ReferenceTypeIds,
  resolveNodeId,
  StatusCodes,
  TimestampsToReturn,
  VariableIds,
} from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAedes } from "../harness/brokers.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf, type TestClient } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const VOLTAGE = "11/5/3WA/Processed 01/ETU";
const ENERGY = "11/101/3WA/Processed 01/ETU";
const RUNNING = "21/23/3WA/Processed 01/ETU";
const S = 1000;
/** Two hours ago, on a whole minute. */
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 2 * 3600_000;

/**
 * Voltage L1, as in test/unit/aggregates.test.ts: 10 at 0 s, 20 at 10 s, a Bad 999 at 20 s, 40 at
 * 30 s, a gap, 50 at 60 s, an Uncertain 60 at 70 s.
 */
const VOLTAGES: [number, number, string][] = [
  [0, 10, "good"],
  [10, 20, "good"],
  [20, 999, "bad"],
  [30, 40, "good"],
  [60, 50, "good"],
  [70, 60, "uncertain"],
];

// Part 4 7.39 StatusCode: InfoType DataValue (0x400) and the historian bits (Part 11 6.3, Part 13 5.3.3).
const RAW = 0x400;
const CALCULATED = 0x401;
const INTERPOLATED = 0x402;
const PARTIAL = 0x004;
const GOOD = 0;
const UNCERTAIN_SUB_NORMAL = StatusCodes.UncertainDataSubNormal.value;
const BAD_NO_DATA = StatusCodes.BadNoData.value;

const valuesOf = (r: HistoryReadResult) => (r.historyData as HistoryData).dataValues ?? [];
const row = (dv: DataValue) => [
  (dv.sourceTimestamp!.getTime() - T0) / S,
  dv.value.value === null ? null : Math.round(Number(dv.value.value) * 1000) / 1000,
  dv.statusCode.value,
];

describe("processed and at-time HistoryRead (Part 11 6.4.4, 6.4.5) with the Part 13 aggregates", () => {
  // One gateway and one series for every read below, stopped after the last (useCleanups stops after each test).
  const stops: (() => Promise<void>)[] = [];
  const track = <T extends { stop(): Promise<void> }>(x: T): T => {
    stops.push(() => x.stop());
    return x;
  };
  const defer = (undo: () => Promise<void>) => stops.push(undo);
  afterAll(async () => {
    while (stops.length > 0) await stops.pop()!().catch(() => {});
  });
  let client: TestClient;

  beforeAll(async () => {
    const folder = mkdtempSync(join(tmpdir(), "history-processed-"));
    defer(async () => rmSync(folder, { recursive: true, force: true }));
    const broker = track(await startAedes());
    // Two intervals a response, so that five intervals take three requests through continuation points.
    const gw = track(
      await startGateway(
        `mqtt:\n  url: ${broker.url}\n  clientId: gw-processed-${process.pid}\n` +
          `history:\n  folder: ${JSON.stringify(folder)}\n  flushInterval: 0.2\n  maxProcessedValues: 2\n`,
      ),
    );
    client = track(await connectClient(gw.endpointUrl));
    const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    const publish = (topic: string, at: number, value: unknown, quality = "good") =>
      publisher.publishAsync(
        topic,
        JSON.stringify({ value, ts: new Date(T0 + at * S).toISOString(), quality }),
        {
          qos: 1,
        },
      );
    for (const [at, value, quality] of VOLTAGES) await publish(VOLTAGE, at, value, quality);
    // An energy counter every 5 minutes for an hour: 100 Wh each.
    for (let k = 0; k <= 12; k++) await publish(ENERGY, k * 300, 1000 + 100 * k);
    for (const [at, value] of [
      [0, false],
      [10, true],
      [30, false],
    ] as const)
      await publish(RUNNING, at, value);
    await publisher.endAsync();
    const written = async () => {
      const text = await (await fetch(`${gw.httpUrl}/metrics`)).text();
      return Number(/^smartgear_history_values_written_total (\d+)/m.exec(text)?.[1] ?? 0);
    };
    await waitFor("22 values committed", async () => (await written()) >= 22, 30_000);
  }, 90_000);

  /** One request (or its continuation) of a processed read. */
  async function readOnce(
    topic: string,
    aggregateId: number,
    range: { start: number; end: number; interval: number },
    continuationPoint?: Buffer,
    aggregateConfiguration?: AggregateConfiguration,
  ): Promise<HistoryReadResult> {
    const response = await client.session.historyRead(
      new HistoryReadRequest({
        historyReadDetails: new ReadProcessedDetails({
          startTime: new Date(T0 + range.start * S),
          endTime: new Date(T0 + range.end * S),
          processingInterval: range.interval * S,
          aggregateType: [resolveNodeId(aggregateId)],
          aggregateConfiguration:
            aggregateConfiguration ?? new AggregateConfiguration({ useServerCapabilitiesDefaults: true }),
        }),
        timestampsToReturn: TimestampsToReturn.Source,
        nodesToRead: [{ nodeId: nodeOf(topic), continuationPoint }],
      }),
    );
    return response.results![0]!;
  }

  /** Every interval of a processed read, following its continuation points; and how many requests it took. */
  async function readAll(
    topic: string,
    aggregateId: number,
    range = { start: 0, end: 90, interval: 20 },
    config?: AggregateConfiguration,
  ) {
    const values: DataValue[] = [];
    let requests = 0;
    let cp: Buffer | undefined;
    let last: HistoryReadResult;
    do {
      last = await readOnce(topic, aggregateId, range, cp, config);
      requests++;
      expect(requests).toBeLessThan(100);
      values.push(...valuesOf(last));
      cp = last.continuationPoint && last.continuationPoint.length > 0 ? last.continuationPoint : undefined;
    } while (cp);
    return { values, requests, status: last.statusCode };
  }

  it("Average, Count, Minimum, Maximum, Start, End over a gap, a Bad value, an Uncertain value and a partial interval, in pages of two", {
    timeout: 60_000,
  }, async () => {
    const average = await readAll(VOLTAGE, ObjectIds.AggregateFunction_Average);
    expect(average.requests).toBe(3);
    expect(average.values.map(row)).toEqual([
      [0, 15, GOOD | CALCULATED],
      [20, 40, UNCERTAIN_SUB_NORMAL | CALCULATED],
      [40, null, BAD_NO_DATA],
      [60, 50, UNCERTAIN_SUB_NORMAL | CALCULATED],
      [80, null, BAD_NO_DATA],
    ]);
    expect((await readAll(VOLTAGE, ObjectIds.AggregateFunction_Count)).values.map(row)).toEqual([
      [0, 2, GOOD | CALCULATED],
      [20, 1, UNCERTAIN_SUB_NORMAL | CALCULATED],
      [40, 0, GOOD | CALCULATED],
      [60, 1, UNCERTAIN_SUB_NORMAL | CALCULATED | PARTIAL],
      [80, null, BAD_NO_DATA],
    ]);
    expect((await readAll(VOLTAGE, ObjectIds.AggregateFunction_Minimum)).values.map(row)).toEqual([
      [0, 10, GOOD | RAW],
      [20, 40, UNCERTAIN_SUB_NORMAL | CALCULATED],
      [40, null, BAD_NO_DATA],
      [60, 50, UNCERTAIN_SUB_NORMAL | CALCULATED | PARTIAL],
      [80, null, BAD_NO_DATA],
    ]);
    expect((await readAll(VOLTAGE, ObjectIds.AggregateFunction_Maximum)).values.map(row)[0]).toEqual([
      0,
      20,
      GOOD | CALCULATED,
    ]);
    // Start and End: the raw value, its own time and status, the Raw bit.
    expect((await readAll(VOLTAGE, ObjectIds.AggregateFunction_Start)).values.map(row)).toEqual([
      [0, 10, GOOD | RAW],
      [20, 999, (StatusCodes.Bad.value | RAW) >>> 0],
      [40, null, BAD_NO_DATA],
      [60, 50, GOOD | RAW | PARTIAL],
      [80, null, BAD_NO_DATA],
    ]);
    expect((await readAll(VOLTAGE, ObjectIds.AggregateFunction_End)).values.map(row)[3]).toEqual([
      70,
      60,
      StatusCodes.Uncertain.value | RAW | PARTIAL,
    ]);
    // AggregateConfiguration of the request: half the values Good is Good enough with PercentDataGood 50.
    const lenient = new AggregateConfiguration({
      useServerCapabilitiesDefaults: false,
      treatUncertainAsBad: false,
      percentDataBad: 100,
      percentDataGood: 50,
      useSlopedExtrapolation: false,
    });
    expect(
      (await readAll(VOLTAGE, ObjectIds.AggregateFunction_Average, undefined, lenient)).values
        .map(row)
        .slice(1, 4),
    ).toEqual([
      [20, 40, GOOD | CALCULATED],
      [40, null, BAD_NO_DATA],
      [60, 55, UNCERTAIN_SUB_NORMAL | CALCULATED],
    ]);
  });

  it("Interpolative (sloped for a Double, stepped for a Boolean) and TimeAverage", {
    timeout: 60_000,
  }, async () => {
    expect((await readAll(VOLTAGE, ObjectIds.AggregateFunction_Interpolative)).values.map(row)).toEqual([
      [0, 10, GOOD | RAW],
      [20, 30, UNCERTAIN_SUB_NORMAL | INTERPOLATED],
      [40, 43.333, GOOD | INTERPOLATED],
      [60, 50, GOOD | RAW],
      [80, 50, UNCERTAIN_SUB_NORMAL | INTERPOLATED],
    ]);
    const running = await readAll(RUNNING, ObjectIds.AggregateFunction_Interpolative, {
      start: 0,
      end: 40,
      interval: 5,
    });
    expect(running.values.map((dv) => dv.value.value)).toEqual([
      false,
      false,
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    const timeAverage = (await readAll(VOLTAGE, ObjectIds.AggregateFunction_TimeAverage)).values.map(row);
    expect(timeAverage[2]).toEqual([40, 46.667, GOOD | CALCULATED]);
  });

  it("Delta of an energy counter over 15-minute intervals", { timeout: 60_000 }, async () => {
    const delta = await readAll(ENERGY, ObjectIds.AggregateFunction_Delta, {
      start: 0,
      end: 3600,
      interval: 900,
    });
    expect(delta.values.map(row)).toEqual([
      [0, 200, GOOD | CALCULATED],
      [900, 200, GOOD | CALCULATED],
      [1800, 200, GOOD | CALCULATED],
      [2700, 200, GOOD | CALCULATED],
    ]);
  });

  it("answers BadAggregateNotSupported for an aggregate not computed, BadInvalidArgument for an empty range, GoodNoData where no interval has data", {
    timeout: 60_000,
  }, async () => {
    expect(
      (await readOnce(VOLTAGE, ObjectIds.AggregateFunction_Range, { start: 0, end: 90, interval: 20 }))
        .statusCode,
    ).toEqual(StatusCodes.BadAggregateNotSupported);
    expect(
      (await readOnce(VOLTAGE, ObjectIds.AggregateFunction_Average, { start: 10, end: 10, interval: 0 }))
        .statusCode,
    ).toEqual(StatusCodes.BadInvalidArgument);
    const before = await readAll(VOLTAGE, ObjectIds.AggregateFunction_Average, {
      start: -100,
      end: -60,
      interval: 20,
    });
    expect(before.status).toEqual(StatusCodes.GoodNoData);
    expect(before.values.map((dv) => dv.statusCode.value)).toEqual([BAD_NO_DATA, BAD_NO_DATA]);
  });

  it("returns the timestamps asked for (Part 4 5.10.3): Source alone, Server alone; Neither, or Server for an aggregate, is BadTimestampsToReturnInvalid", {
    timeout: 60_000,
  }, async () => {
    const raw = async (timestampsToReturn: TimestampsToReturn) =>
      (
        await client.session.historyRead(
          new HistoryReadRequest({
            historyReadDetails: new ReadRawModifiedDetails({
              isReadModified: false,
              startTime: new Date(T0),
              endTime: new Date(T0 + 15 * S),
              numValuesPerNode: 0,
              returnBounds: false,
            }),
            timestampsToReturn,
            nodesToRead: [{ nodeId: nodeOf(VOLTAGE) }],
          }),
        )
      ).results![0]!;
    const source = valuesOf(await raw(TimestampsToReturn.Source));
    expect(source.map((dv) => [dv.sourceTimestamp?.getTime(), dv.serverTimestamp])).toEqual([
      [T0, null],
      [T0 + 10 * S, null],
    ]);
    const server = valuesOf(await raw(TimestampsToReturn.Server));
    expect(server.map((dv) => [dv.sourceTimestamp, dv.serverTimestamp !== null])).toEqual([
      [null, true],
      [null, true],
    ]);
    expect((await raw(TimestampsToReturn.Neither)).statusCode).toEqual(
      StatusCodes.BadTimestampsToReturnInvalid,
    );
    const response = await client.session.historyRead(
      new HistoryReadRequest({
        historyReadDetails: new ReadProcessedDetails({
          startTime: new Date(T0),
          endTime: new Date(T0 + 90 * S),
          processingInterval: 20 * S,
          aggregateType: [resolveNodeId(ObjectIds.AggregateFunction_Average)],
          aggregateConfiguration: new AggregateConfiguration({ useServerCapabilitiesDefaults: true }),
        }),
        timestampsToReturn: TimestampsToReturn.Server,
        nodesToRead: [{ nodeId: nodeOf(VOLTAGE) }],
      }),
    );
    expect(response.results![0]!.statusCode).toEqual(StatusCodes.BadTimestampsToReturnInvalid);
  });

  it("reads values at given times, raw or interpolated, with and without simple bounds", {
    timeout: 60_000,
  }, async () => {
    const atTimes = async (useSimpleBounds: boolean) => {
      const values: DataValue[] = [];
      let continuationPoint: Buffer | undefined;
      let requests = 0;
      do {
        const response = await client.session.historyRead(
          new HistoryReadRequest({
            historyReadDetails: new ReadAtTimeDetails({
              reqTimes: [5, 20, 25, 65, -5].map((t) => new Date(T0 + t * S)),
              useSimpleBounds,
            }),
            timestampsToReturn: TimestampsToReturn.Source,
            nodesToRead: [{ nodeId: nodeOf(VOLTAGE), continuationPoint }],
          }),
        );
        const r = response.results![0]!;
        values.push(...valuesOf(r));
        continuationPoint = r.continuationPoint?.length ? r.continuationPoint : undefined;
        requests++;
      } while (continuationPoint && requests < 10);
      // Five times, two a response (history.maxProcessedValues).
      expect(requests).toBe(3);
      return values.map(row);
    };
    expect(await atTimes(true)).toEqual([
      [5, 15, GOOD | INTERPOLATED],
      [20, 999, (StatusCodes.Bad.value | RAW) >>> 0],
      // The raw value before 25 s is Bad: no simple bound.
      [25, null, BAD_NO_DATA],
      [65, 55, UNCERTAIN_SUB_NORMAL | INTERPOLATED],
      [-5, null, BAD_NO_DATA],
    ]);
    // Interpolated bounds pass over the Bad value: 25 s lies between 20 at 10 s and 40 at 30 s.
    expect(await atTimes(false)).toEqual([
      [5, 15, GOOD | INTERPOLATED],
      [20, 30, UNCERTAIN_SUB_NORMAL | INTERPOLATED],
      [25, 35, UNCERTAIN_SUB_NORMAL | INTERPOLATED],
      // After 50 at 60 s only the Uncertain 60 (TreatUncertainAsBad by default): extrapolated, Uncertain.
      [65, 50, UNCERTAIN_SUB_NORMAL | INTERPOLATED],
      [-5, null, BAD_NO_DATA],
    ]);
  });

  it("says what it supports in HistoryServerCapabilities (Part 11 5.4.2) and each variable's shared HA Configuration (5.2.2)", {
    timeout: 60_000,
  }, async () => {
    const capability = async (id: number) => (await client.read(resolveNodeId(id).toString())).value.value;
    expect(await capability(VariableIds.HistoryServerCapabilities_AccessHistoryDataCapability)).toBe(true);
    expect(await capability(VariableIds.HistoryServerCapabilities_InsertDataCapability)).toBe(false);
    expect(await capability(VariableIds.HistoryServerCapabilities_DeleteRawCapability)).toBe(false);
    const aggregates = [
      "Average",
      "Count",
      "Delta",
      "End",
      "Interpolative",
      "Maximum",
      "Minimum",
      "Start",
      "TimeAverage",
    ];
    for (const folder of [
      ObjectIds.HistoryServerCapabilities_AggregateFunctions,
      ObjectIds.Server_ServerCapabilities_AggregateFunctions,
    ])
      expect((await client.browseNames(resolveNodeId(folder).toString())).sort()).toEqual(aggregates);

    // As UaExpert finds it: the variable's HasHistoricalConfiguration, then "HA Configuration/Stepped".
    const stepped = async (topic: string) => {
      const refs = await client.session.browse({
        nodeId: nodeOf(topic),
        referenceTypeId: ReferenceTypeIds.HasHistoricalConfiguration,
        includeSubtypes: true,
        resultMask: 63,
      });
      expect(refs.references!.map((r) => r.browseName.toString())).toEqual(["HA Configuration"]);
      const [path] = await client.session.translateBrowsePath([
        makeBrowsePath(nodeOf(topic), "<HasHistoricalConfiguration>HA Configuration.Stepped"),
      ]);
      expect(path!.statusCode).toEqual(StatusCodes.Good);
      return {
        config: refs.references![0]!.nodeId.toString(),
        stepped: (await client.read(path!.targets![0]!.targetId.toString())).value.value,
      };
    };
    const voltage = await stepped(VOLTAGE);
    const energy = await stepped(ENERGY);
    const running = await stepped(RUNNING);
    expect(voltage.stepped).toBe(false);
    expect(running.stepped).toBe(true);
    // Shared: one object per kind, not one per variable.
    expect(energy.config).toBe(voltage.config);
    expect(running.config).not.toBe(voltage.config);
    const treatUncertainAsBad = await client.session.translateBrowsePath(
      makeBrowsePath(voltage.config, ".AggregateConfiguration.TreatUncertainAsBad"),
    );
    expect((await client.read(treatUncertainAsBad.targets![0]!.targetId.toString())).value.value).toBe(true);
    const historizing = await client.session.read({
      nodeId: nodeOf(RUNNING),
      attributeId: AttributeIds.Historizing,
    });
    expect(historizing.value.value).toBe(true);
  });
});
