import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import {
  AttributeIds,
  type ClientSubscription,
  constructEventFilter,
  DataType,
  ObjectIds,
  StatusCodes,
  type Variant,
} from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/security/password-hash.js";
import { publish } from "../harness/brokers.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, connectTrusted, nodeOf, type TestClient } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const TOPIC = "48/1/50/Group 01/PM";
const FIELDS = [
  "EventType",
  "SourceName",
  "Message",
  "Severity",
  "Time",
  "ActiveState.Id",
  "AckedState.Id",
  "EventId",
  "ConditionId",
  "Retain",
];

interface AlarmEvent {
  source: string;
  message: string;
  severity: number;
  time: Date;
  active: boolean;
  acked: boolean;
  eventId: Buffer;
  conditionId: string;
}

async function watchAlarms(client: TestClient) {
  const subscription: ClientSubscription = await client.session.createSubscription2({
    requestedPublishingInterval: 50,
    publishingEnabled: true,
    requestedMaxKeepAliveCount: 10,
    requestedLifetimeCount: 100,
  });
  const events: AlarmEvent[] = [];
  const item = await subscription.monitor(
    { nodeId: `i=${ObjectIds.Server}`, attributeId: AttributeIds.EventNotifier },
    { queueSize: 100, filter: constructEventFilter(FIELDS) },
    2,
  );
  item.on("changed", (v: Variant[]) => {
    if (v[9]?.value === null && v[5]?.value === null) return; // refresh start/end markers
    events.push({
      source: v[1]!.value,
      message: v[2]!.value?.text,
      severity: v[3]!.value,
      time: v[4]!.value,
      active: v[5]!.value,
      acked: v[6]!.value,
      eventId: v[7]!.value,
      conditionId: v[8]!.value?.toString(),
    });
  });
  return { subscription, events };
}

describe("alarm points as OPC UA Alarms & Conditions", () => {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-alarms-"));
  const serverPki = join(dir, "server-pki");
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: TestClient;

  beforeAll(async () => {
    const usersFile = join(dir, "users.yaml");
    writeFileSync(
      usersFile,
      `users:\n  - { username: otto, passwordHash: "${hashPassword("pw")}", roles: [Operator] }\n`,
    );
    gw = await startGateway(
      `opcua:\n  port: 0\n  pkiFolder: ${JSON.stringify(serverPki)}\n  usersFile: ${JSON.stringify(usersFile)}\n` +
        'devices:\n  - { type: "50", name: Group 01, source: PM }\n',
    );
    client = await connectTrusted(gw.endpointUrl, serverPki, {
      pkiFolder: join(dir, "client-pki"),
      user: { userName: "otto", password: "pw" },
    });
  });
  afterAll(async () => {
    await client?.stop();
    await gw?.stop();
  });

  it("raises the alarm with the catalog's severity and the payload's time, and clears it on the falling edge", async () => {
    const { subscription, events } = await watchAlarms(client);
    // The device hears of the acknowledgement (the catalog marks 48/1 acknowledgeToDevice).
    const device = await mqtt.connectAsync(gw.brokerUrl, { protocolVersion: 4 });
    const acks: { topic: string; qos: number; body: Record<string, unknown> }[] = [];
    device.on("message", (topic, payload, packet) =>
      acks.push({ topic, qos: packet.qos, body: JSON.parse(String(payload)) }),
    );
    await device.subscribeAsync("cmd/+/+/+/+/+/ack", { qos: 2 });
    await publish(gw.brokerUrl, [{ topic: TOPIC, payload: '{"value": true, "ts": "2026-06-01T12:00:00Z"}' }]);
    const raised = await waitFor("the alarm event", () => events.find((e) => e.active));
    expect(raised.severity).toBe(800);
    expect(raised.acked).toBe(false);
    expect(raised.time.toISOString()).toBe("2026-06-01T12:00:00.000Z");
    expect(raised.message).toBe("50/Group 01/PM: Phase1_Alarm_MaxTempAlarm (48/1) active");
    expect(raised.source).toBe("50/Group 01/PM");
    expect(raised.conditionId).toBe("ns=2;s=Devices/50/Group 01/PM/Conditions/Phase1MaxTempAlarm");

    // Acknowledge from the client (AcknowledgeableConditionType.Acknowledge, Part 9 5.7.3).
    const ack = await client.session.call({
      objectId: raised.conditionId,
      methodId: `i=${9111}`,
      inputArguments: [
        { dataType: DataType.ByteString, value: raised.eventId },
        { dataType: DataType.LocalizedText, value: { text: "seen, sending a technician" } },
      ],
    });
    expect(ack.statusCode).toEqual(StatusCodes.Good);
    await waitFor("the acknowledged state", () => events.find((e) => e.active && e.acked));
    await waitFor("the acknowledgement published", () => acks.length === 1);
    expect(acks[0]).toMatchObject({
      topic: "cmd/48/1/50/Group 01/PM/ack",
      qos: 2,
      body: {
        command: "AcknowledgePhase1MaxTempAlarm",
        state: "Acknowledged",
        comment: "seen, sending a technician",
      },
    });
    await device.endAsync();

    await publish(gw.brokerUrl, [
      { topic: TOPIC, payload: '{"value": false, "ts": "2026-06-01T12:05:00Z"}' },
    ]);
    const cleared = await waitFor("the cleared event", () => events.find((e) => !e.active));
    expect(cleared.time.toISOString()).toBe("2026-06-01T12:05:00.000Z");
    expect(cleared.message).toContain("back to normal");
    await subscription.terminate();
  });

  it("replays an active alarm to a new client on ConditionRefresh", async () => {
    await publish(gw.brokerUrl, [{ topic: "48/3/50/Group 01/PM", payload: "true" }]);
    await waitFor(
      "48/3 active",
      async () => (await client.read("ns=2;s=48/3/50/Group 01/PM")).value.value === true,
    );
    const { subscription, events } = await watchAlarms(client);
    await client.session.call({
      objectId: `i=${ObjectIds.Server}`,
      methodId: `i=${3875}`, // ConditionType.ConditionRefresh
      inputArguments: [{ dataType: DataType.UInt32, value: subscription.subscriptionId }],
    });
    const replayed = await waitFor("the refreshed condition", () =>
      events.find((e) => e.active && e.conditionId.endsWith("Phase1LoadRatingAlarm")),
    );
    expect(replayed.severity).toBe(700);
    await subscription.terminate();
  });
});

describe("device health", () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: TestClient;

  beforeAll(async () => {
    gw = await startGateway("mapping:\n  offlineAfter: 0.4\n");
    client = await connectClient(gw.endpointUrl);
  });
  afterAll(async () => {
    await client?.stop();
    await gw?.stop();
  });

  it("turns a device's Online false with an event when it goes quiet, and true again when it speaks", async () => {
    const subscription = await client.session.createSubscription2({
      requestedPublishingInterval: 50,
      publishingEnabled: true,
      requestedMaxKeepAliveCount: 10,
      requestedLifetimeCount: 100,
    });
    const messages: string[] = [];
    const item = await subscription.monitor(
      { nodeId: `i=${ObjectIds.Server}`, attributeId: AttributeIds.EventNotifier },
      { queueSize: 100, filter: constructEventFilter(["Message", "Severity"]) },
      2,
    );
    item.on("changed", (v: Variant[]) => messages.push(`${v[0]!.value.text} ${v[1]!.value}`));
    const online = "ns=2;s=Devices/3WA/Feeder 09/ETU/Online";
    await publish(gw.brokerUrl, [{ topic: "11/5/3WA/Feeder 09/ETU", payload: "230" }]);
    await waitFor("online", async () => (await client.read(online)).value.value === true);
    await waitFor("offline", async () => (await client.read(online)).value.value === false, 5000);
    await waitFor("the offline event", () =>
      messages.includes("3WA/Feeder 09/ETU offline: no message for 0.4 s 600"),
    );
    await publish(gw.brokerUrl, [{ topic: "11/5/3WA/Feeder 09/ETU", payload: "231" }]);
    await waitFor("online again", async () => (await client.read(online)).value.value === true, 5000);
    await waitFor("the online event", () => messages.includes("3WA/Feeder 09/ETU online again 200"));
    await subscription.terminate();
  });
});

describe("limit alarms on analog points", () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: TestClient;

  beforeAll(async () => {
    gw = await startGateway(
      'alarms:\n  limits:\n    - { point: "48/50", high: 90, highHigh: 110, severity: 650 }\n',
    );
    client = await connectClient(gw.endpointUrl);
  });
  afterAll(async () => {
    await client?.stop();
    await gw?.stop();
  });

  it("raises High and HighHigh as the temperature climbs, back to normal when it falls, with the value in the message", async () => {
    const { subscription, events } = await watchAlarms(client);
    const topic = "48/50/50/Group 02/PM";
    await publish(gw.brokerUrl, [{ topic, payload: "60" }]);
    await waitFor("the point", async () => (await client.read(nodeOf(topic))).value.value === 60);
    await publish(gw.brokerUrl, [{ topic, payload: "95" }]);
    const high = await waitFor("High", () => events.find((e) => e.active && e.message.includes("High (95")));
    expect(high.severity).toBe(650);
    expect(high.message).toBe("50/Group 02/PM: Phase_1_Temperature (48/50) High (95 °C)");
    expect(high.conditionId).toBe("ns=2;s=Devices/50/Group 02/PM/Conditions/Phase1TemperatureLimit");
    await publish(gw.brokerUrl, [{ topic, payload: "115" }]);
    await waitFor("HighHigh", () => events.find((e) => e.active && e.message.includes("HighHigh (115")));
    await publish(gw.brokerUrl, [{ topic, payload: "70" }]);
    await waitFor("back to normal", () =>
      events.find((e) => !e.active && e.message.includes("back to normal")),
    );
    await subscription.terminate();
  });

  it("raises High with its own message, severity and time when the first value a device sends is beyond the limit, and nothing else", async () => {
    const { subscription, events } = await watchAlarms(client);
    const topic = "48/50/50/Group 03/PM";
    const sent = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    await publish(gw.brokerUrl, [
      { topic, payload: JSON.stringify({ value: 95, ts: new Date(sent).toISOString() }) },
    ]);
    const condition = "ns=2;s=Devices/50/Group 03/PM/Conditions/Phase1TemperatureLimit";
    const high = await waitFor("High", () => events.find((e) => e.conditionId === condition));
    expect(high).toMatchObject({
      active: true,
      severity: 650,
      message: "50/Group 03/PM: Phase_1_Temperature (48/50) High (95 °C)",
    });
    expect(high.time.getTime()).toBe(sent);
    // Events come in order: one published after the first shows it was the only one.
    await publish(gw.brokerUrl, [{ topic, payload: "115" }]);
    await waitFor("HighHigh", () => events.find((e) => e.message.includes("HighHigh (115")));
    expect(events.filter((e) => e.conditionId === condition).map((e) => e.message)).toEqual([
      "50/Group 03/PM: Phase_1_Temperature (48/50) High (95 °C)",
      "50/Group 03/PM: Phase_1_Temperature (48/50) HighHigh (115 °C)",
    ]);
    await subscription.terminate();
  });
});

describe("device health from a status topic (last will)", () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: TestClient;

  beforeAll(async () => {
    gw = await startGateway('mapping:\n  statusTopic: "status/{deviceType}/{deviceName}/{deviceSource}"\n');
    client = await connectClient(gw.endpointUrl);
  });
  afterAll(async () => {
    await client?.stop();
    await gw?.stop();
  });

  it("believes the device's own offline word at once, and a message after it brings it back", async () => {
    const online = "ns=2;s=Devices/3WA/Feeder 11/ETU/Online";
    await publish(gw.brokerUrl, [{ topic: "11/5/3WA/Feeder 11/ETU", payload: "230" }]);
    await waitFor("online", async () => (await client.read(online)).value.value === true);
    // What the broker publishes as the device's last will when its connection dies.
    await publish(gw.brokerUrl, [{ topic: "status/3WA/Feeder 11/ETU", payload: "offline", retain: true }]);
    await waitFor("offline by its word", async () => (await client.read(online)).value.value === false, 5000);
    await publish(gw.brokerUrl, [{ topic: "11/5/3WA/Feeder 11/ETU", payload: "231" }]);
    await waitFor("online again", async () => (await client.read(online)).value.value === true, 5000);
    expect(gw.gateway.counters.rejectedBy.get("malformedTopic")).toBe(0);
  });
});
