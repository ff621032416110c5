import mqtt, { type MqttClient } from "mqtt";
import {
  AttributeIds,
  constructEventFilter,
  type DataValue,
  type MonitoredItemModifyResult,
  type NodeId,
  ObjectIds,
  StatusCodes,
  VariableIds,
} from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf, type TestClient } from "../harness/opcua-client.js";
import { RawSubscription } from "../harness/raw-subscription.js";
import { waitFor } from "../harness/wait.js";

/**
 * Sampling and queueing of the mirrored variables, as OPC 10000-4 (Part 4) 5.12.1 specifies them,
 * checked on the CreateMonitoredItems results and Publish responses as the server sent them.
 */
const DEVICE = "3WA/Feeder 01/ETU";
const ALARM = "48/1/50/Group 01/PM";
const BURST = 10;
type Parameters = { samplingInterval: number; queueSize: number; discardOldest: boolean };
/** The value and source time of the i-th value of a burst (1-based): 100 + i, at 12:00:00.00i. */
const burstValue = (i: number) => 100 + i;
const timeOf = (i: number) => new Date(Date.UTC(2026, 10, 29, 12, 0, 0, i));

describe("sampling and queueing of mirrored variables (OPC UA Part 4 5.12.1)", () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: TestClient;
  let device: MqttClient;

  beforeAll(async () => {
    gw = await startGateway('devices:\n  - { type: "50", name: Group 01, source: PM }\n');
    client = await connectClient(gw.endpointUrl);
    device = await mqtt.connectAsync(gw.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  });
  afterAll(async () => {
    await device?.endAsync();
    await client?.stop();
    await gw?.stop();
  });

  /** Publishes the payloads back to back (all handed to the socket before any acknowledgement). */
  const burst = (topic: string, payloads: string[]) =>
    Promise.all(payloads.map((p) => device.publishAsync(topic, p, { qos: 1 })));
  const shows = (topic: string, value: number) =>
    waitFor(`${value} on ${topic}`, async () => (await client.read(nodeOf(topic))).value.value === value);

  /**
   * Gives `topic` a first value, monitors it with each of `items` in one subscription, takes the
   * initial values, then publishes a burst of BURST values within a few milliseconds with no
   * Publish request outstanding, and collects until every item delivered the burst's last value.
   * With `modifyTo`, every item is modified to those parameters before the burst.
   */
  async function burstThrough(
    topic: string,
    publishingInterval: number,
    items: Parameters[],
    modifyTo?: Parameters,
  ) {
    await burst(topic, ["1"]);
    await shows(topic, 1);
    const subscription = await RawSubscription.create(client.session, publishingInterval);
    const created: Awaited<ReturnType<RawSubscription["monitor"]>>[] = [];
    for (const parameters of items) created.push(await subscription.monitor(nodeOf(topic), parameters));
    const delivered = (handle: number) => subscription.values.get(handle) ?? [];
    await subscription.collect(() => created.every((c) => delivered(c.clientHandle).length > 0));
    subscription.values.clear();
    const modified: MonitoredItemModifyResult[] = [];
    if (modifyTo) for (const c of created) modified.push(await subscription.modify(c, modifyTo));

    await burst(
      topic,
      Array.from({ length: BURST }, (_, k) =>
        JSON.stringify({ value: burstValue(k + 1), ts: timeOf(k + 1).toISOString() }),
      ),
    );
    await shows(topic, burstValue(BURST));
    await subscription.collect(() =>
      created.every((c) => delivered(c.clientHandle).at(-1)?.value.value === burstValue(BURST)),
    );
    await subscription.delete();
    return {
      publishingInterval: subscription.publishingInterval,
      items: created.map((c, k) => ({
        result: c.result,
        modified: modified[k],
        values: delivered(c.clientHandle),
      })),
    };
  }
  const valuesOf = (dvs: DataValue[]) => dvs.map((dv) => dv.value.value as number);
  const overflowOf = (dvs: DataValue[]) => dvs.map((dv) => dv.statusCode.hasOverflowBit);

  it("advertises MinSupportedSampleRate 0 and revises a requested samplingInterval 0 to 0 (exception-based)", async () => {
    // Part 5 6.3.2 (ServerCapabilitiesType): MinSupportedSampleRate, 0 included; Part 4 5.12.1.2:
    // 0 asks for the fastest practical rate, and 0 means the item is exception-based.
    const advertised = await client.read(`i=${VariableIds.Server_ServerCapabilities_MinSupportedSampleRate}`);
    expect(advertised.statusCode).toEqual(StatusCodes.Good);
    expect(advertised.value.value).toBe(0);
    await burst(`11/1/${DEVICE}`, ["1"]);
    await shows(`11/1/${DEVICE}`, 1);
    const subscription = await RawSubscription.create(client.session, 100);
    const { result } = await subscription.monitor(nodeOf(`11/1/${DEVICE}`), {
      samplingInterval: 0,
      queueSize: 10,
      discardOldest: true,
    });
    expect(result.statusCode).toEqual(StatusCodes.Good);
    expect(result.revisedSamplingInterval).toBe(advertised.value.value);
    expect(result.revisedQueueSize).toBe(10);
    await subscription.delete();
  });

  it("delivers every value of a burst, in order, with its source time, to samplingInterval 0 and queueSize 10", async () => {
    const { items } = await burstThrough(`11/5/${DEVICE}`, 100, [
      { samplingInterval: 0, queueSize: 10, discardOldest: true },
    ]);
    const [{ result, values }] = items as [(typeof items)[0]];
    expect(result.revisedSamplingInterval).toBe(0);
    expect(valuesOf(values)).toEqual(Array.from({ length: BURST }, (_, k) => burstValue(k + 1)));
    expect(values.map((dv) => dv.sourceTimestamp?.toISOString())).toEqual(
      Array.from({ length: BURST }, (_, k) => timeOf(k + 1).toISOString()),
    );
    expect(overflowOf(values)).not.toContain(true);
  });

  it("keeps the newest value for queueSize 1 without the overflow bit, and flags what a full queue lost (Part 4 5.12.1.5)", async () => {
    const { items } = await burstThrough(`11/6/${DEVICE}`, 100, [
      { samplingInterval: 0, queueSize: 1, discardOldest: true },
      { samplingInterval: 0, queueSize: 3, discardOldest: true },
      { samplingInterval: 0, queueSize: 3, discardOldest: false },
    ]);
    const [one, oldestOut, lastReplaced] = items as [(typeof items)[0], (typeof items)[0], (typeof items)[0]];
    // "If the queue size is one, the queue becomes a buffer that always contains the newest
    // Notification" and the Overflow bit is set only "if the size of the queue is larger than one".
    expect(valuesOf(one.values)).toEqual([burstValue(BURST)]);
    expect(overflowOf(one.values)).toEqual([false]);
    // discardOldest TRUE: "the oldest value gets deleted from the queue and the next value in the
    // queue gets the flag set".
    expect(valuesOf(oldestOut.values)).toEqual([burstValue(8), burstValue(9), burstValue(10)]);
    expect(overflowOf(oldestOut.values)).toEqual([true, false, false]);
    // discardOldest FALSE: "the last value added to the queue gets replaced with the new value. The
    // new value gets the flag set".
    expect(valuesOf(lastReplaced.values)).toEqual([burstValue(1), burstValue(2), burstValue(10)]);
    expect(overflowOf(lastReplaced.values)).toEqual([false, false, true]);
  });

  it("samples at the publishing interval for samplingInterval -1 and at 100 ms for 100, not every change (Part 4 5.12.1.2)", async () => {
    const { publishingInterval, items } = await burstThrough(`11/7/${DEVICE}`, 200, [
      { samplingInterval: -1, queueSize: 10, discardOldest: true },
      { samplingInterval: 100, queueSize: 10, discardOldest: true },
    ]);
    expect(publishingInterval).toBe(200);
    const [atPublishing, at100] = items as [(typeof items)[0], (typeof items)[0]];
    expect(atPublishing.result.revisedSamplingInterval).toBe(200);
    expect(at100.result.revisedSamplingInterval).toBe(100);
    // A burst of a few milliseconds falls within one or two sampling intervals: a sampled item sees
    // its end, not each value (bound generous for a loaded machine).
    for (const { values } of [atPublishing, at100]) {
      expect(values.length).toBeLessThanOrEqual(3);
      expect(values.at(-1)?.sourceTimestamp?.toISOString()).toBe(timeOf(BURST).toISOString());
    }
  });

  it("turns a sampled item exception-based when a ModifyMonitoredItems asks samplingInterval 0", async () => {
    const { items } = await burstThrough(
      `11/8/${DEVICE}`,
      100,
      [{ samplingInterval: 100, queueSize: 10, discardOldest: true }],
      { samplingInterval: 0, queueSize: 10, discardOldest: true },
    );
    const [{ result, modified, values }] = items as [(typeof items)[0]];
    expect(result.revisedSamplingInterval).toBe(100);
    // Part 4 5.12.1.2 holds for ModifyMonitoredItems as for CreateMonitoredItems (5.12.3.2).
    expect(modified?.statusCode).toEqual(StatusCodes.Good);
    expect(modified?.revisedSamplingInterval).toBe(0);
    expect(valuesOf(values)).toEqual(Array.from({ length: BURST }, (_, k) => burstValue(k + 1)));
  });

  it("raises and clears an alarm whose flag flickers within 5 ms: the client gets every event and every value", async () => {
    // The condition is created with the flag's first value (inactive).
    await burst(ALARM, ["false"]);
    await waitFor("the alarm flag", async () => (await client.read(nodeOf(ALARM))).value.value === false);
    const subscription = await RawSubscription.create(client.session, 100);
    // Part 4 5.12.1.2: a Client shall request 0 for an Event item.
    const events = await subscription.monitor(
      `i=${ObjectIds.Server}`,
      {
        samplingInterval: 0,
        queueSize: 10,
        discardOldest: true,
        filter: constructEventFilter(["SourceName", "ActiveState.Id", "Time", "BranchId"]),
      },
      AttributeIds.EventNotifier,
    );
    expect(events.result.statusCode).toEqual(StatusCodes.Good);
    const flag = await subscription.monitor(nodeOf(ALARM), {
      samplingInterval: 0,
      queueSize: 10,
      discardOldest: true,
    });
    await subscription.collect(() => (subscription.values.get(flag.clientHandle) ?? []).length > 0);
    subscription.values.clear();

    // Rises, falls, rises and falls again: a window that folds changes keeps the first and the last.
    const flicker = [true, false, true, false];
    await burst(
      ALARM,
      flicker.map((value, k) => JSON.stringify({ value, ts: timeOf(k + 1).toISOString() })),
    );
    // The condition's own events; a clear while unacknowledged also reports the branch that keeps
    // the unacknowledged activation (Part 9 5.5.2), which is not a change of the flag.
    const alarmEvents = () =>
      (subscription.events.get(events.clientHandle) ?? []).filter(
        (f) => f[0]?.value === "50/Group 01/PM" && (f[3]?.value as NodeId | null)?.isEmpty() !== false,
      );
    const flagValues = () => subscription.values.get(flag.clientHandle) ?? [];
    await subscription.collect(
      () =>
        alarmEvents().length >= 4 && flagValues().at(-1)?.sourceTimestamp?.getTime() === timeOf(4).getTime(),
    );
    const expected = flicker.map((value, k) => [value, timeOf(k + 1).toISOString()]);
    const eventStates = alarmEvents().map((f) => [
      f[1]?.value,
      (f[2]?.value as Date | undefined)?.toISOString(),
    ]);
    expect(eventStates, "ActiveState and Time of the events").toEqual(expected);
    const flagStates = flagValues().map((dv) => [dv.value.value, dv.sourceTimestamp?.toISOString()]);
    expect(flagStates, "values and source times of the flag").toEqual(expected);
    await subscription.delete();
  });
});
