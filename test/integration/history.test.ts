import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import {
  AttributeIds,
  type DataValue,
  type HistoryData,
  HistoryReadRequest,
  type HistoryReadResult,
  ReadRawModifiedDetails,
  StatusCodes,
  TimestampsToReturn,
} from "node-opcua";
import { describe, expect, it } from "vitest";
import { startAedes } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf, type TestClient, waitStatus } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const TOPIC = "11/5/3WA/History 01/ETU";
/** Source times of the published values: one a second, two hours ago. */
const T0 = Math.floor(Date.now() / 1000) * 1000 - 2 * 3600_000;

/** One HistoryRead of raw values (Part 11 6.4.3), or the next page of one through its continuation point. */
async function readRaw(
  client: TestClient,
  details: { start?: number; end?: number; numValuesPerNode?: number; returnBounds?: boolean },
  continuationPoint?: Buffer,
  release = false,
): Promise<HistoryReadResult> {
  const response = await client.session.historyRead(
    new HistoryReadRequest({
      historyReadDetails: new ReadRawModifiedDetails({
        isReadModified: false,
        startTime: details.start === undefined ? null : new Date(details.start),
        endTime: details.end === undefined ? null : new Date(details.end),
        numValuesPerNode: details.numValuesPerNode ?? 0,
        returnBounds: details.returnBounds ?? false,
      }),
      timestampsToReturn: TimestampsToReturn.Both,
      releaseContinuationPoints: release,
      nodesToRead: [{ nodeId: nodeOf(TOPIC), continuationPoint }],
    }),
  );
  return response.results![0]!;
}

const valuesOf = (r: HistoryReadResult) => (r.historyData as HistoryData).dataValues ?? [];

describe("HistoryRead of mirrored points from the embedded store", () => {
  const { track, defer } = useCleanups();

  async function setUp() {
    const folder = mkdtempSync(join(tmpdir(), "history-it-"));
    defer(async () => rmSync(folder, { recursive: true, force: true }));
    const broker = track(await startAedes());
    const gw = track(
      await startGateway(
        `mqtt:\n  url: ${broker.url}\n  clientId: gw-history-${process.pid}\n  reconnectPeriod: 200\n  reconnectPeriodMax: 400\n` +
          `history:\n  folder: ${JSON.stringify(folder)}\n  flushInterval: 0.2\n`,
      ),
    );
    const client = track(await connectClient(gw.endpointUrl));
    await waitFor(
      "broker connected",
      async () => (await client.read("ns=2;s=Gateway/BrokerConnected")).value.value === true,
    );
    const written = async () => {
      const text = await (await fetch(`${gw.httpUrl}/metrics`)).text();
      return Number(/^smartgear_history_values_written_total (\d+)/m.exec(text)?.[1] ?? 0);
    };
    return { broker, gw, client, written };
  }

  /** Publishes `count` values of TOPIC, value i at T0 + i s, over one connection. */
  async function publishSeries(url: string, count: number): Promise<void> {
    const publisher = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
    try {
      for (let i = 0; i < count; i++)
        await publisher.publishAsync(
          TOPIC,
          JSON.stringify({ value: i, ts: new Date(T0 + i * 1000).toISOString() }),
          { qos: 1 },
        );
    } finally {
      await publisher.endAsync();
    }
  }

  it("returns 5,000 published values in 5 pages of 1,000 through continuation points, in order, with their source times", {
    timeout: 90_000,
  }, async () => {
    const { broker, client, written } = await setUp();
    await publishSeries(broker.url, 5000);
    await waitFor("5,000 values committed", async () => (await written()) >= 5000, 30_000);

    // The variable says it is historized and may be read so (Part 3 5.6.2, Part 11 5.2).
    const attrs = await client.session.read([
      { nodeId: nodeOf(TOPIC), attributeId: AttributeIds.Historizing },
      { nodeId: nodeOf(TOPIC), attributeId: AttributeIds.AccessLevel },
    ]);
    expect(attrs[0]!.value.value).toBe(true);
    expect(attrs[1]!.value.value & 0x04).toBe(0x04);

    const seen: DataValue[] = [];
    let page = await readRaw(client, { start: T0, end: T0 + 5000_000, numValuesPerNode: 1000 });
    let pages = 1;
    for (;;) {
      expect(page.statusCode).toEqual(StatusCodes.Good);
      expect(valuesOf(page)).toHaveLength(1000);
      seen.push(...valuesOf(page));
      if (!page.continuationPoint || page.continuationPoint.length === 0) break;
      expect(pages).toBeLessThan(5);
      page = await readRaw(
        client,
        { start: T0, end: T0 + 5000_000, numValuesPerNode: 1000 },
        page.continuationPoint,
      );
      pages++;
    }
    expect(pages).toBe(5);
    expect(seen.map((v) => v.value.value)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(seen.map((v) => v.sourceTimestamp!.getTime())).toEqual(
      Array.from({ length: 5000 }, (_, i) => T0 + i * 1000),
    );

    // A continuation point is used once; a used or released one is invalid (Part 11 6.3).
    const first = await readRaw(client, { start: T0, end: T0 + 5000_000, numValuesPerNode: 1000 });
    const released = await readRaw(client, {}, first.continuationPoint!, true);
    expect(released.statusCode).toEqual(StatusCodes.Good);
    expect(valuesOf(released)).toHaveLength(0);
    const reused = await readRaw(
      client,
      { start: T0, end: T0 + 5000_000, numValuesPerNode: 1000 },
      first.continuationPoint!,
    );
    expect(reused.statusCode).toEqual(StatusCodes.BadContinuationPointInvalid);
  });

  it("shows a broker outage in history as the status the variable had", { timeout: 60_000 }, async () => {
    const { broker, client, written } = await setUp();
    await publishSeries(broker.url, 3);
    await waitStatus(client, TOPIC, StatusCodes.Good);
    const before = Date.now();
    await broker.pause();
    await waitStatus(client, TOPIC, StatusCodes.UncertainNoCommunicationLastUsableValue);
    await waitFor("outage committed", async () => (await written()) >= 4, 10_000);
    const history = valuesOf(await readRaw(client, { start: T0, end: Date.now() + 60_000 }));
    expect(history.map((v) => v.statusCode)).toEqual([
      StatusCodes.Good,
      StatusCodes.Good,
      StatusCodes.Good,
      StatusCodes.UncertainNoCommunicationLastUsableValue,
    ]);
    // The outage is kept at the moment it happened, with the last value it left the point showing.
    const outage = history[3]!;
    expect(outage.sourceTimestamp!.getTime()).toBeGreaterThanOrEqual(before);
    expect(outage.value.value).toBe(2);
  });

  it("answers GoodNoData for a range without values, BadBoundNotFound bounds where none exist (Part 11 4.4), BadNoContinuationPoints beyond 50", {
    timeout: 60_000,
  }, async () => {
    const { broker, client, written } = await setUp();
    await publishSeries(broker.url, 3);
    await waitFor("3 values committed", async () => (await written()) >= 3, 10_000);
    const empty = await readRaw(client, { start: T0 - 60_000, end: T0 - 1000 });
    expect(empty.statusCode).toEqual(StatusCodes.GoodNoData);
    expect(valuesOf(empty)).toHaveLength(0);
    // Values at T0, +1 s, +2 s. From 0.5 s to 1.5 s with bounds: the one before, the one inside, the one after.
    const bounded = valuesOf(await readRaw(client, { start: T0 + 500, end: T0 + 1500, returnBounds: true }));
    expect(bounded.map((v) => v.value.value)).toEqual([0, 1, 2]);
    // Before the first value nothing bounds the start: FIRST, null at the start time, BadBoundNotFound.
    const first = valuesOf(await readRaw(client, { start: T0 - 5000, end: T0 + 500, returnBounds: true }));
    expect(first[0]!.statusCode).toEqual(StatusCodes.BadBoundNotFound);
    expect(first[0]!.sourceTimestamp!.getTime()).toBe(T0 - 5000);
    expect(first.slice(1).map((v) => v.value.value)).toEqual([0, 1]);
    // A session holds at most 50 continuation points (MaxHistoryContinuationPoints); then none.
    for (let i = 0; i < 50; i++)
      expect(
        (await readRaw(client, { start: T0, end: T0 + 3000, numValuesPerNode: 1 })).continuationPoint,
      ).toHaveLength(12);
    const refused = await readRaw(client, { start: T0, end: T0 + 3000, numValuesPerNode: 1 });
    expect(refused.statusCode).toEqual(StatusCodes.BadNoContinuationPoints);
    // The end is excluded (Part 11 3.1.8); in reverse the later values come first.
    const reverse = valuesOf(await readRaw(client, { start: T0 + 2000, end: T0 }));
    expect(reverse.map((v) => v.value.value)).toEqual([2, 1]);
  });
});
