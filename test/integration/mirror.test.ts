import { AttributeIds, BrowseDirection, DataType, StatusCodes } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publish } from "../harness/brokers.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf, type TestClient } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const DEVICE = "3WA/Feeder 01/ETU";

describe("mirroring Sm@rtGear topics from the embedded broker", () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: TestClient;
  let started = 0;

  beforeAll(async () => {
    started = Date.now();
    gw = await startGateway(`
devices:
  - { type: 3WA, name: Declared, source: ETU }
mapping:
  maxDevices: 5
`);
    client = await connectClient(gw.endpointUrl);
  });
  afterAll(async () => {
    await client?.stop();
    await gw?.stop();
  });

  const readTopic = async (topic: string) => client.read(nodeOf(topic));
  const goodValue = (topic: string) =>
    waitFor(`a good value on ${topic}`, async () => {
      const dv = await readTopic(topic);
      return dv.statusCode.equals(StatusCodes.Good) ? dv : null;
    });

  it("mirrors a plain text scalar as a Double with the receive time as source time", async () => {
    const before = Date.now();
    await publish(gw.brokerUrl, [{ topic: `11/5/${DEVICE}`, payload: "230.4" }]);
    const dv = await goodValue(`11/5/${DEVICE}`);
    expect(dv.value.dataType).toBe(DataType.Double);
    expect(dv.value.value).toBeCloseTo(230.4);
    expect(dv.sourceTimestamp!.getTime()).toBeGreaterThanOrEqual(before - 5);
  });

  it("mirrors a JSON object with value, timestamp and quality, keeping the payload's time", async () => {
    await publish(gw.brokerUrl, [
      {
        topic: `11/21/${DEVICE}`,
        payload: JSON.stringify({ value: 412.5, ts: "2026-03-01T12:00:00.000Z", quality: "good" }),
      },
      { topic: `11/22/${DEVICE}`, payload: JSON.stringify({ val: "398", timestamp: 1772366400, qc: 1 }) },
    ]);
    const dv = await goodValue(`11/21/${DEVICE}`);
    expect(dv.value.value).toBe(412.5);
    expect(dv.sourceTimestamp!.toISOString()).toBe("2026-03-01T12:00:00.000Z");
    const uncertain = await waitFor("uncertain 11/22", async () => {
      const v = await readTopic(`11/22/${DEVICE}`);
      return v.statusCode.equals(StatusCodes.Uncertain) ? v : null;
    });
    expect(uncertain.value.value).toBe(398);
    expect(uncertain.sourceTimestamp!.getTime()).toBe(1772366400 * 1000);
  });

  it("mirrors a JSON scalar, a Boolean, a UInt32, a DateTime and JSON text of a String point", async () => {
    await publish(gw.brokerUrl, [
      { topic: `11/10/${DEVICE}`, payload: "17" },
      { topic: `21/23/${DEVICE}`, payload: "true" },
      { topic: `21/2/${DEVICE}`, payload: '"2026-02-03T04:05:06Z"' },
      { topic: `21/14/${DEVICE}`, payload: '"SN-0042"' },
      { topic: `48/0/50/Group 01/PM`, payload: '{"maxTemp": 90, "hysteresis": 5}' },
    ]);
    expect((await goodValue(`11/10/${DEVICE}`)).value).toMatchObject({
      dataType: DataType.UInt32,
      value: 17,
    });
    expect((await goodValue(`21/23/${DEVICE}`)).value).toMatchObject({
      dataType: DataType.Boolean,
      value: true,
    });
    expect((await goodValue(`21/2/${DEVICE}`)).value.value.toISOString()).toBe("2026-02-03T04:05:06.000Z");
    expect((await goodValue(`21/14/${DEVICE}`)).value.value).toBe("SN-0042");
    expect(JSON.parse((await goodValue(`48/0/50/Group 01/PM`)).value.value)).toEqual({
      maxTemp: 90,
      hysteresis: 5,
    });
  });

  it("mirrors the Industrial Edge Databus vals shape with its qc and ts", async () => {
    await publish(gw.brokerUrl, [
      {
        topic: `48/50/50/Group 01/PM`,
        payload: JSON.stringify({
          seq: 7,
          vals: [{ id: "48/50", qc: 3, ts: "2026-05-05T05:05:05.000Z", val: 61.5 }],
        }),
      },
    ]);
    const dv = await goodValue(`48/50/50/Group 01/PM`);
    expect(dv.value.value).toBe(61.5);
    expect(dv.sourceTimestamp!.toISOString()).toBe("2026-05-05T05:05:05.000Z");
  });

  it("gives analog points their engineering units and range", async () => {
    const [eu, range] = await Promise.all(
      ["EngineeringUnits", "EURange"].map(async (name) => {
        const r = await client.session.translateBrowsePath({
          startingNode: nodeOf(`11/5/${DEVICE}`),
          relativePath: {
            elements: [
              { referenceTypeId: "i=46", isInverse: false, includeSubtypes: true, targetName: { name } },
            ],
          },
        });
        const target = r.targets?.[0]?.targetId;
        if (!target) throw new Error(`no ${name} on 11/5`);
        return (await client.session.read({ nodeId: target.toString(), attributeId: AttributeIds.Value }))
          .value.value;
      }),
    );
    expect(eu.displayName.text).toBe("V");
    expect(eu.unitId).toBe(5655636); // UNECE VLT
    expect(range).toMatchObject({ low: 0, high: 600 });
  });

  it("shares one EngineeringUnits node among the devices' variables, without an inverse reference per variable", async () => {
    const unitsOf = async (topic: string) => {
      const r = await client.session.translateBrowsePath({
        startingNode: nodeOf(topic),
        relativePath: {
          elements: [
            {
              referenceTypeId: "i=46",
              isInverse: false,
              includeSubtypes: true,
              targetName: { name: "EngineeringUnits" },
            },
          ],
        },
      });
      return r.targets?.[0]?.targetId.toString();
    };
    const declared = await unitsOf("11/5/3WA/Declared/ETU");
    expect(declared).toBeDefined();
    expect(await unitsOf(`11/5/${DEVICE}`)).toBe(declared);
    // Its parent is its instance declaration in the model; an inverse browse does not list every
    // device's variable (100,000 references at 100,000 points).
    const inverse = await client.session.browse({
      nodeId: declared!,
      browseDirection: BrowseDirection.Inverse,
      referenceTypeId: "HasProperty",
      includeSubtypes: true,
      resultMask: 0x3f,
    });
    expect(inverse.references?.map((r) => r.browseName.name)).toEqual(["VoltageL1"]);
    expect(inverse.references?.[0]?.nodeId.namespace).not.toBe(2);
  });

  it("shows a device in the browse tree on its first message", async () => {
    expect(await client.browseNames(`ns=2;s=Devices/3WA`)).not.toContain("Feeder 07");
    await publish(gw.brokerUrl, [{ topic: "11/49/3WA/Feeder 07/ETU", payload: "1200" }]);
    await waitFor("Feeder 07 in the tree", async () =>
      (await client.browseNames("ns=2;s=Devices/3WA")).includes("Feeder 07"),
    );
    // Its one folder, its Online state and the commands every device has.
    expect((await client.browseNames("ns=2;s=Devices/3WA/Feeder 07/ETU")).sort()).toEqual([
      "NotifyFirmwareUpdate",
      "Online",
      "PowerQuality",
      "SendCommand",
    ]);
    expect(await client.browseNames("ns=2;s=Devices/3WA/Feeder 07/ETU/PowerQuality/Power")).toEqual([
      "ActivePowerTotal",
    ]);
  });

  it("has declared devices browsable before any data, waiting for initial data", async () => {
    const folders = await client.browseNames("ns=2;s=Devices/3WA/Declared/ETU");
    expect(folders.sort()).toEqual([
      "Compliance",
      "NotifyFirmwareUpdate",
      "Online",
      "PowerQuality",
      "PredictiveMaintenance",
      "SendCommand",
    ]);
    const dv = await readTopic("11/5/3WA/Declared/ETU");
    expect(dv.statusCode).toEqual(StatusCodes.BadWaitingForInitialData);
    // No value, so no source time; the server time is when the point was created.
    expect(dv.sourceTimestamp).toBeNull();
    expect(dv.serverTimestamp!.getTime()).toBeGreaterThanOrEqual(started - 1);
    expect(dv.serverTimestamp!.getTime()).toBeLessThanOrEqual(Date.now());
    expect((await readTopic("11/439/3WA/Declared/ETU")).statusCode).toEqual(
      StatusCodes.BadWaitingForInitialData,
    );
  });

  it("marks garbage BadDecodingError, keeps the last value and counts the reason", async () => {
    const topic = `11/6/${DEVICE}`;
    await publish(gw.brokerUrl, [{ topic, payload: "231" }]);
    await goodValue(topic);
    const before = gw.gateway.counters.rejectedBy.get("typeMismatch")!;
    await publish(gw.brokerUrl, [{ topic, payload: "not a number" }]);
    const dv = await waitFor("BadDecodingError", async () => {
      const v = await readTopic(topic);
      return v.statusCode.equals(StatusCodes.BadDecodingError) ? v : null;
    });
    expect(dv.value.value).toBe(231);
    expect(gw.gateway.counters.rejectedBy.get("typeMismatch")).toBe(before + 1);
    const counter = await client.read("ns=2;s=Gateway/RejectedBy/TypeMismatch");
    expect(counter.value.value[1]).toBe(before + 1);
    await publish(gw.brokerUrl, [{ topic, payload: "232" }]);
    expect((await goodValue(topic)).value.value).toBe(232);
  });

  it("counts unknown ids and families without creating nodes", async () => {
    const c = gw.gateway.counters;
    const before = { id: c.rejectedBy.get("unknownId")!, family: c.rejectedBy.get("unknownFamily")! };
    await publish(gw.brokerUrl, [
      { topic: "11/15/3WA/Feeder 01/ETU", payload: "1" },
      { topic: "21/24/3WA/Feeder 01/ETU", payload: "1" },
      { topic: "11/999/3WA/Feeder 01/ETU", payload: "1" },
    ]);
    await waitFor("unknown ids counted", () => c.rejectedBy.get("unknownId") === before.id + 3);
    const dv = await readTopic("11/15/3WA/Feeder 01/ETU");
    expect(dv.statusCode).toEqual(StatusCodes.BadNodeIdUnknown);
    expect(c.rejectedBy.get("unknownFamily")).toBe(before.family);
  });

  it("drops and counts messages of devices beyond the device cap", async () => {
    const c = gw.gateway.counters;
    const messages = Array.from({ length: 8 }, (_, i) => ({
      topic: `11/5/3WA/Flood ${i}/ETU`,
      payload: "1",
    }));
    await publish(gw.brokerUrl, messages);
    await waitFor("device limit reached", () => (c.rejectedBy.get("deviceLimit") ?? 0) > 0);
    expect(gw.gateway.ingest!.deviceCount).toBe(5);
    const names = await client.browseNames("ns=2;s=Devices/3WA");
    expect(names.filter((n) => n.startsWith("Flood")).length).toBeLessThan(8);
    expect((await readTopic("11/5/3WA/Flood 7/ETU")).statusCode).toEqual(StatusCodes.BadNodeIdUnknown);
  });

  it("exposes diagnostics: broker state, counters and per-device figures", async () => {
    expect((await client.read("ns=2;s=Gateway/BrokerConnected")).value.value).toBe(true);
    expect((await client.read("ns=2;s=Gateway/BrokerProtocol")).value.value).toBe("embedded");
    const received = (await client.read("ns=2;s=Gateway/MessagesReceived")).value.value;
    expect(received[1]).toBeGreaterThan(10);
    expect((await client.read("ns=2;s=Gateway/DeviceCount")).value.value).toBe(
      gw.gateway.ingest!.deviceCount,
    );
    const count = await client.read(`ns=2;s=Gateway/Devices/${DEVICE}/MessageCount`);
    expect(count.value.value[1]).toBeGreaterThan(5);
    const seen = await client.read(`ns=2;s=Gateway/Devices/${DEVICE}/LastSeen`);
    expect(Date.now() - seen.value.value.getTime()).toBeLessThan(60_000);
  });

  it("notifies a subscribed client of each new value", async () => {
    const topic = `11/7/${DEVICE}`;
    await publish(gw.brokerUrl, [{ topic, payload: "229.0" }]);
    await goodValue(topic);
    const sub = await client.session.createSubscription2({
      requestedPublishingInterval: 50,
      publishingEnabled: true,
      requestedMaxKeepAliveCount: 10,
      requestedLifetimeCount: 100,
    });
    const seen: number[] = [];
    const item = await sub.monitor(
      { nodeId: nodeOf(topic), attributeId: AttributeIds.Value },
      { samplingInterval: 0, queueSize: 10, discardOldest: true },
      2,
    );
    item.on("changed", (dv) => {
      if (dv.statusCode.equals(StatusCodes.Good)) seen.push(dv.value.value);
    });
    await publish(gw.brokerUrl, [
      { topic, payload: "229.1" },
      { topic, payload: "229.2" },
    ]);
    await waitFor("both notifications", () => seen.includes(229.1) && seen.includes(229.2));
    await sub.terminate();
  });
});
