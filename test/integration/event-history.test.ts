import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AttributeIds,
  type ClientSubscription,
  constructEventFilter,
  DataType,
  FilterOperator,
  HistoryReadRequest,
  type HistoryReadResult,
  LiteralOperand,
  ObjectIds,
  ofType,
  ReadEventDetails,
  resolveNodeId,
  SimpleAttributeOperand,
  StatusCodes,
  TimestampsToReturn,
  type Variant,
} from "node-opcua";
import { describe, expect, it } from "vitest";
import { DB_FILE, openDb } from "../../src/history/history-db.js";
import { packFields, unpackFields } from "../../src/opcua/event-fields.js";
import { hashPassword } from "../../src/security/password-hash.js";
import { publish, startAedes } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { connectTrusted, nodeOf, readBelow, type TestClient, waitStatus } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const DEVICE = "ns=2;s=Devices/3WA/Feeder 01/ETU";
const OTHER_DEVICE = "ns=2;s=Devices/3WA/Feeder 02/ETU";
const ALARM = "48/1/3WA/Feeder 01/ETU";
const CONDITION = `${DEVICE}/Conditions/Phase1MaxTempAlarm`;
/** An analog point of the same device with a limit alarm (alarms.limits, limitsYaml) and its condition. */
const TEMPERATURE = "48/50/3WA/Feeder 01/ETU";
const LIMIT_CONDITION = `${DEVICE}/Conditions/Phase1TemperatureLimit`;
const limitsYaml = (limits: string) =>
  `alarms:\n  limits:\n    - { point: "48/50", ${limits}, severity: 650 }\n`;
const temperature = (value: number, time: number) =>
  JSON.stringify({ value, ts: new Date(time).toISOString() });
const SERVER = `i=${ObjectIds.Server}`;
/** Alarm times from the payloads: in the past, to tell them from the times of the gateway's clock. */
const RAISED = Math.floor(Date.now() / 1000) * 1000 - 600_000;
const CLEARED = RAISED + 300_000;
/** The journal's fields a SCADA alarm history view shows. */
const SELECT = [
  "EventType",
  "Time",
  "Message",
  "Severity",
  "SourceName",
  "ClientUserId",
  "Comment",
  "ActiveState.Id",
  "AckedState.Id",
  "ConfirmedState.Id",
  "ConditionId",
  "Status",
];

interface Row {
  type: string;
  time: number;
  message: string;
  severity: number;
  source: string;
  user: string | null;
  comment: string | null;
  active: boolean | null;
  acked: boolean | null;
  confirmed: boolean | null;
  conditionId: string | null;
  status: boolean | null;
}

function rowOf(f: Variant[]): Row {
  return {
    type: f[0]!.value?.toString(),
    time: (f[1]!.value as Date).getTime(),
    message: f[2]!.value?.text,
    severity: f[3]!.value,
    source: f[4]!.value,
    user: f[5]!.value,
    comment: f[6]!.value?.text ?? null,
    active: f[7]!.value,
    acked: f[8]!.value,
    confirmed: f[9]!.value,
    conditionId: f[10]!.value?.toString() ?? null,
    status: f[11]!.value,
  };
}

/** One HistoryRead of events (Part 11 6.4.2), or its next page through a continuation point. */
async function readEvents(
  client: TestClient,
  nodeId: string,
  details: {
    start?: number;
    end?: number;
    numValuesPerNode?: number;
    filter?: ReturnType<typeof constructEventFilter>;
  },
  continuationPoint?: Buffer,
  release = false,
): Promise<HistoryReadResult> {
  const response = await client.session.historyRead(
    new HistoryReadRequest({
      historyReadDetails: new ReadEventDetails({
        startTime: details.start === undefined ? null : new Date(details.start),
        endTime: details.end === undefined ? null : new Date(details.end),
        numValuesPerNode: details.numValuesPerNode ?? 0,
        filter: details.filter ?? constructEventFilter(SELECT),
      }),
      timestampsToReturn: TimestampsToReturn.Both,
      releaseContinuationPoints: release,
      nodesToRead: [{ nodeId, continuationPoint }],
    }),
  );
  return response.results![0]!;
}

const fieldsOf = (r: HistoryReadResult): Variant[][] =>
  ((r.historyData as unknown as { events: { eventFields: Variant[] }[] | null }).events ?? []).map(
    (e) => e.eventFields,
  );

async function watchConditions(client: TestClient) {
  const subscription: ClientSubscription = await client.session.createSubscription2({
    requestedPublishingInterval: 50,
    publishingEnabled: true,
    requestedMaxKeepAliveCount: 10,
    requestedLifetimeCount: 100,
  });
  const events: {
    eventId: Buffer;
    active: boolean;
    acked: boolean;
    time: Date;
    conditionId: string;
    message: string;
    severity: number;
    limitState: string | null;
  }[] = [];
  const item = await subscription.monitor(
    { nodeId: SERVER, attributeId: AttributeIds.EventNotifier },
    {
      queueSize: 100,
      filter: constructEventFilter([
        "EventId",
        "ActiveState.Id",
        "AckedState.Id",
        "Time",
        "ConditionId",
        "Message",
        "Severity",
        "LimitState.CurrentState",
      ]),
    },
    2,
  );
  item.on("changed", (v: Variant[]) => {
    if (v[1]!.value === null) return; // not a condition's event (refresh markers, audits)
    events.push({
      eventId: v[0]!.value,
      active: v[1]!.value,
      acked: v[2]!.value,
      time: v[3]!.value,
      conditionId: v[4]!.value?.toString(),
      message: v[5]!.value?.text,
      severity: v[6]!.value,
      limitState: v[7]!.value?.text ?? null,
    });
  });
  return { subscription, events };
}

/** ConditionType.ConditionRefresh on the Server object (Part 9 5.5.7): what a new client is sent of `condition`. */
async function refresh(client: TestClient, condition: string) {
  const watched = await watchConditions(client);
  await client.session.call({
    objectId: SERVER,
    methodId: `i=${3875}`,
    inputArguments: [{ dataType: DataType.UInt32, value: watched.subscription.subscriptionId }],
  });
  const refreshed = await waitFor("the refreshed condition", () =>
    watched.events.find((e) => e.conditionId === condition),
  );
  return { ...watched, refreshed };
}

/** AcknowledgeableConditionType.Acknowledge (Part 9 5.7.3) of the event `eventId` names. */
async function acknowledge(client: TestClient, condition: string, eventId: Buffer, comment: string) {
  const ack = await client.session.call({
    objectId: condition,
    methodId: `i=${9111}`,
    inputArguments: [
      { dataType: DataType.ByteString, value: eventId },
      { dataType: DataType.LocalizedText, value: { text: comment } },
    ],
  });
  expect(ack.statusCode).toEqual(StatusCodes.Good);
}

const brokerConnected = (client: TestClient) =>
  waitFor(
    "broker connected",
    async () => (await client.read("ns=2;s=Gateway/BrokerConnected")).value.value === true,
  );

describe("event history: the alarm journal and command audits (README, History: event history)", () => {
  const { track, defer } = useCleanups();

  async function setUp() {
    const dir = mkdtempSync(join(tmpdir(), "event-history-"));
    defer(async () => rmSync(dir, { recursive: true, force: true }));
    const usersFile = join(dir, "users.yaml");
    writeFileSync(
      usersFile,
      "users:\n" +
        `  - { username: otto, passwordHash: "${hashPassword("pw")}", roles: [Operator] }\n` +
        `  - { username: olivia, passwordHash: "${hashPassword("pw")}", roles: [Observer] }\n`,
    );
    const broker = track(await startAedes());
    const serverPki = join(dir, "server-pki");
    const yaml =
      `mqtt:\n  url: ${broker.url}\n  clientId: gw-journal-${process.pid}\n  reconnectPeriod: 200\n` +
      `opcua:\n  port: 0\n  pkiFolder: ${JSON.stringify(serverPki)}\n  usersFile: ${JSON.stringify(usersFile)}\n` +
      `history:\n  folder: ${JSON.stringify(join(dir, "history"))}\n  flushInterval: 0.2\n` +
      // Declared: its command folders are there before it publishes.
      "devices:\n  - { type: 3WA, name: Feeder 01, source: ETU }\n";
    const connect = (gw: { endpointUrl: string }, user: string) =>
      connectTrusted(gw.endpointUrl, serverPki, {
        pkiFolder: join(dir, `client-pki-${user}`),
        user: { userName: user, password: "pw" },
      });
    return { broker, yaml, connect, store: join(dir, "history", DB_FILE) };
  }

  it("returns activations, acknowledgements with who and the comment, returns to normal, confirms and command audits, with a select clause, a time range, a where clause and continuation points", {
    timeout: 120_000,
  }, async () => {
    const { broker, yaml, connect } = await setUp();
    const gw = track(await startGateway(yaml));
    const otto = track(await connect(gw, "otto"));
    const olivia = track(await connect(gw, "olivia"));
    await waitFor(
      "broker connected",
      async () => (await otto.read("ns=2;s=Gateway/BrokerConnected")).value.value === true,
    );
    const { subscription, events } = await watchConditions(otto);
    await publish(broker.url, [
      { topic: ALARM, payload: JSON.stringify({ value: true, ts: new Date(RAISED).toISOString() }) },
      // Another device's value: its device object is made, and its journal stays empty.
      { topic: "11/5/3WA/Feeder 02/ETU", payload: "230" },
    ]);
    const raised = await waitFor("the alarm", () => events.find((e) => e.active));
    const call = (client: TestClient, method: number, eventId: Buffer, comment: string) =>
      client.session.call({
        objectId: CONDITION,
        methodId: `i=${method}`,
        inputArguments: [
          { dataType: DataType.ByteString, value: eventId },
          { dataType: DataType.LocalizedText, value: { text: comment } },
        ],
      });
    // AcknowledgeableConditionType.Acknowledge and Confirm (Part 9 5.7.3, 5.7.4).
    expect((await call(otto, 9111, raised.eventId, "seen, sending a technician")).statusCode).toEqual(
      StatusCodes.Good,
    );
    await waitFor("acknowledged", () => events.find((e) => e.acked));
    await publish(broker.url, [
      { topic: ALARM, payload: JSON.stringify({ value: false, ts: new Date(CLEARED).toISOString() }) },
    ]);
    const normal = await waitFor("back to normal", () => events.find((e) => e.active === false));
    // Confirm names the condition's latest event (Part 9 5.7.4).
    expect((await call(otto, 9113, normal.eventId, "fan replaced")).statusCode).toEqual(StatusCodes.Good);
    await subscription.terminate();
    // An Observer may not reset: refused, audited all the same.
    const refused = await olivia.session.call({
      objectId: `${DEVICE}/PowerQuality`,
      methodId: `${DEVICE}/PowerQuality/ResetMaxValues`,
      inputArguments: [{ dataType: DataType.String, value: "All" }],
    });
    expect(refused.statusCode).toEqual(StatusCodes.BadUserAccessDenied);

    // Committed within history.flushInterval.
    const range = { start: RAISED - 1000, end: Date.now() + 60_000 };
    const all = await waitFor("the journal", async () => {
      const r = await readEvents(otto, DEVICE, range);
      return fieldsOf(r).length >= 5 ? r : null;
    });
    expect(all.statusCode).toEqual(StatusCodes.Good);
    const rows = fieldsOf(all).map(rowOf);
    const journal = rows.filter((r) => r.conditionId === CONDITION);
    // In Time order; the acknowledgement and the confirm keep the Time of the state they act on.
    expect(journal.map((r) => [r.active, r.acked, r.confirmed])).toEqual([
      [true, false, false],
      [true, true, false],
      [false, true, false],
      [false, true, true],
    ]);
    const activation = journal.find((r) => r.active && !r.acked)!;
    expect(activation).toMatchObject({
      time: RAISED,
      severity: 800,
      source: "3WA/Feeder 01/ETU",
      message: "3WA/Feeder 01/ETU: Phase1_Alarm_MaxTempAlarm (48/1) active",
      type: resolveNodeId("OffNormalAlarmType").toString(),
    });
    expect(journal.find((r) => r.active && r.acked)).toMatchObject({
      user: "otto",
      comment: "seen, sending a technician",
    });
    expect(journal.find((r) => !r.active && !r.confirmed)).toMatchObject({ time: CLEARED });
    expect(journal.find((r) => r.confirmed && !r.active)).toMatchObject({
      user: "otto",
      comment: "fan replaced",
    });
    const times = rows.map((r) => r.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The command's audit event: who, which method on which device, the commandId and the result;
    // the fields of a condition it does not have are null (Part 4 7.22.3).
    const audit = rows.find((r) => r.type === resolveNodeId("AuditUpdateMethodEventType").toString())!;
    expect(audit).toMatchObject({
      user: "olivia",
      status: false,
      conditionId: null,
      active: null,
      comment: null,
    });
    expect(audit.message).toMatch(
      /^ResetMaxValues on 3WA\/Feeder 01\/ETU: BadUserAccessDenied \(commandId [0-9a-f-]{36}\)$/,
    );
    // Another device's journal is its own.
    expect((await readEvents(otto, OTHER_DEVICE, range)).statusCode).toEqual(StatusCodes.GoodNoData);

    // A time range: from the return to normal on (the start is included).
    const later = fieldsOf(await readEvents(otto, DEVICE, { ...range, start: CLEARED })).map(rowOf);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((r) => r.time >= CLEARED)).toBe(true);
    expect(later.length).toBeLessThan(rows.length);
    // Backwards: end before start returns the newest first.
    const backwards = fieldsOf(await readEvents(otto, DEVICE, { start: range.end, end: range.start })).map(
      rowOf,
    );
    expect(backwards.map((r) => r.time)).toEqual([...times].reverse());

    // Pages of two, through continuation points, give the same events once each.
    const paged: Row[] = [];
    let page = await readEvents(otto, DEVICE, { ...range, numValuesPerNode: 2 });
    for (let i = 0; i < 20; i++) {
      expect(page.statusCode).toEqual(StatusCodes.Good);
      expect(fieldsOf(page).length).toBeLessThanOrEqual(2);
      paged.push(...fieldsOf(page).map(rowOf));
      if (!page.continuationPoint || page.continuationPoint.length === 0) break;
      page = await readEvents(otto, DEVICE, { ...range, numValuesPerNode: 2 }, page.continuationPoint);
    }
    expect(paged).toEqual(rows);
    // A released continuation point is gone (Part 11 6.3).
    const first = await readEvents(otto, DEVICE, { ...range, numValuesPerNode: 1 });
    expect((await readEvents(otto, DEVICE, range, first.continuationPoint!, true)).statusCode).toEqual(
      StatusCodes.Good,
    );
    expect((await readEvents(otto, DEVICE, range, first.continuationPoint!)).statusCode).toEqual(
      StatusCodes.BadContinuationPointInvalid,
    );

    // The Server object's history holds every event; a where clause (OfType) keeps the audits.
    const ofAudits = await readEvents(otto, SERVER, {
      ...range,
      filter: constructEventFilter(SELECT, ofType("AuditUpdateMethodEventType")),
    });
    expect(ofAudits.statusCode).toEqual(StatusCodes.Good);
    const audits = fieldsOf(ofAudits).map(rowOf);
    // The command's, and node-opcua's audits of the Acknowledge, AddComment and Confirm calls
    // (AuditConditionEventType is a subtype, Part 9 5.10.2); none of the condition's own events.
    expect(audits.map((r) => r.user)).toContain("olivia");
    expect(audits.length).toBe(4);
    expect(audits.every((r) => r.active === null && r.conditionId === null)).toBe(true);
    // Equals on a field.
    const severe = constructEventFilter(SELECT);
    severe.whereClause.elements = [
      {
        filterOperator: FilterOperator.Equals,
        filterOperands: [
          new SimpleAttributeOperand({
            typeDefinitionId: resolveNodeId("BaseEventType"),
            browsePath: [{ name: "Severity", namespaceIndex: 0 }],
            attributeId: AttributeIds.Value,
          }),
          new LiteralOperand({ value: { dataType: DataType.UInt16, value: 800 } }),
        ],
      } as never,
    ];
    const at800 = fieldsOf(await readEvents(otto, SERVER, { ...range, filter: severe })).map(rowOf);
    expect(at800.length).toBeGreaterThan(0);
    expect(at800.every((r) => r.severity === 800)).toBe(true);
    // An operator the journal does not evaluate: the read is refused, not answered wrongly.
    const like = constructEventFilter(SELECT);
    like.whereClause.elements = [
      { ...severe.whereClause.elements[0]!, filterOperator: FilterOperator.Like } as never,
    ];
    expect((await readEvents(otto, SERVER, { ...range, filter: like })).statusCode).toEqual(
      StatusCodes.BadContentFilterInvalid,
    );
  });

  /** The journal range of the alarms raised here (their payload times lie in the past). */
  const journalRange = () => ({ start: RAISED - 1000, end: Date.now() + 600_000 });

  /** A gateway on `yaml` publishes `messages` and stops once the journal committed an event of them. */
  async function raiseThenStop(
    yaml: string,
    connect: (gw: { endpointUrl: string }, user: string) => Promise<TestClient>,
    brokerUrl: string,
    messages: { topic: string; payload: string }[],
  ) {
    const first = await startGateway(yaml);
    const before = await connect(first, "otto");
    await brokerConnected(before);
    await publish(brokerUrl, messages);
    await waitFor(
      "the activation committed",
      async () => fieldsOf(await readEvents(before, DEVICE, journalRange())).length > 0,
    );
    await before.stop();
    await first.stop();
  }

  /** The journal's rows of `condition` once there are `count`, with LimitState/CurrentState's text last. */
  async function journalOf(client: TestClient, condition: string, count: number) {
    const filter = constructEventFilter([...SELECT, "LimitState.CurrentState"]);
    return waitFor("the journal", async () => {
      const rows = fieldsOf(await readEvents(client, DEVICE, { ...journalRange(), filter }))
        .map((f) => ({ ...rowOf(f), limitState: (f[SELECT.length]!.value?.text as string | null) ?? null }))
        .filter((r) => r.conditionId === condition);
      return rows.length >= count ? rows : null;
    });
  }

  it("brings an active unacknowledged alarm back after a restart: ConditionRefresh shows it with its original time, acknowledging it works, the device's next value returns it to normal", {
    timeout: 120_000,
  }, async () => {
    const { broker, yaml, connect } = await setUp();
    await raiseThenStop(yaml, connect, broker.url, [
      { topic: ALARM, payload: JSON.stringify({ value: true, ts: new Date(RAISED).toISOString() }) },
    ]);

    const second = track(await startGateway(yaml));
    const otto = track(await connect(second, "otto"));
    const { subscription, events, refreshed } = await refresh(otto, CONDITION);
    expect(refreshed).toMatchObject({ active: true, acked: false });
    expect(refreshed.time.getTime()).toBe(RAISED);
    await acknowledge(otto, CONDITION, refreshed.eventId, "after the restart");
    await waitFor("acknowledged", () => events.find((e) => e.acked && e.active));
    await brokerConnected(otto);
    await publish(broker.url, [
      { topic: ALARM, payload: JSON.stringify({ value: false, ts: new Date(CLEARED).toISOString() }) },
    ]);
    await waitFor("back to normal", () => events.find((e) => e.active === false));
    await subscription.terminate();

    // The journal: the activation once (the refresh after the restart is no new event), then the
    // acknowledgement and the return to normal.
    const journal = await journalOf(otto, CONDITION, 3);
    expect(journal.map((r) => [r.active, r.acked, r.user, r.comment])).toEqual([
      [true, false, "", null],
      [true, true, "otto", "after the restart"],
      [false, true, "otto", "after the restart"],
    ]);
  });

  it("brings an active limit alarm back after a restart in its limit state: ConditionRefresh shows High with its original time, message and severity, acknowledging it works, a fresh value in the same limit raises nothing, the next ones move it to HighHigh and back to normal", {
    timeout: 120_000,
  }, async () => {
    const { broker, yaml, connect } = await setUp();
    const limits = `${yaml}${limitsYaml("high: 90, highHigh: 110")}`;
    await raiseThenStop(limits, connect, broker.url, [
      { topic: TEMPERATURE, payload: temperature(95, RAISED) },
    ]);

    const restartedAt = Date.now();
    const second = track(await startGateway(limits));
    const otto = track(await connect(second, "otto"));
    const { subscription, events, refreshed } = await refresh(otto, LIMIT_CONDITION);
    expect(refreshed).toMatchObject({
      active: true,
      acked: false,
      limitState: "High",
      message: "3WA/Feeder 01/ETU: Phase_1_Temperature (48/50) High (95 °C)",
      severity: 650,
    });
    expect(refreshed.time.getTime()).toBe(RAISED);
    // Active since the first gateway saw it (node-opcua's clock), not since the restart.
    const activeSince = await readBelow(otto, LIMIT_CONDITION, "/ActiveState/TransitionTime");
    expect((activeSince.value.value as Date).getTime()).toBeLessThan(restartedAt);
    await acknowledge(otto, LIMIT_CONDITION, refreshed.eventId, "limit after the restart");
    await waitFor("acknowledged", () => events.find((e) => e.acked && e.active));
    await brokerConnected(otto);
    // Still above High: no new activation. Then above HighHigh, then below High.
    await publish(broker.url, [{ topic: TEMPERATURE, payload: temperature(96, RAISED + 1000) }]);
    await waitStatus(otto, TEMPERATURE, StatusCodes.Good);
    await publish(broker.url, [{ topic: TEMPERATURE, payload: temperature(115, RAISED + 2000) }]);
    await waitFor("HighHigh", () => events.find((e) => e.limitState === "HighHigh"));
    await publish(broker.url, [{ topic: TEMPERATURE, payload: temperature(70, CLEARED) }]);
    await waitFor("back to normal", () => events.find((e) => e.active === false));
    await subscription.terminate();
    // Activations: not the branch that keeps the unacknowledged HighHigh at the return to normal
    // (Part 9 5.5.2), whose LimitState a live filter reads from the node, by then in no state.
    const activations = events.filter(
      (e) => e.conditionId === LIMIT_CONDITION && e.active && !e.acked && e.limitState !== null,
    );
    expect(activations.map((e) => [e.limitState, e.time.getTime()])).toEqual([
      ["High", RAISED],
      ["HighHigh", RAISED + 2000],
    ]);

    const journal = await journalOf(otto, LIMIT_CONDITION, 4);
    expect(journal.slice(0, 3).map((r) => [r.active, r.acked, r.limitState, r.user, r.time])).toEqual([
      [true, false, "High", "", RAISED],
      [true, true, "High", "otto", RAISED],
      [true, false, "HighHigh", "otto", RAISED + 2000],
    ]);
    expect(journal.at(-1)).toMatchObject({ active: false, limitState: null, time: CLEARED });
  });

  it("does not bring a limit alarm back whose limits were removed; one whose limits changed is judged by the new ones with its restored value", {
    timeout: 150_000,
  }, async () => {
    const { broker, yaml, connect } = await setUp();
    await raiseThenStop(`${yaml}${limitsYaml("high: 90")}`, connect, broker.url, [
      { topic: TEMPERATURE, payload: temperature(95, RAISED) },
    ]);
    const conditionExists = async (client: TestClient) =>
      !(
        await client.session.read({ nodeId: LIMIT_CONDITION, attributeId: AttributeIds.BrowseName })
      ).statusCode.equals(StatusCodes.BadNodeIdUnknown);

    const unlimited = await startGateway(yaml);
    const before = await connect(unlimited, "otto");
    expect((await before.read(nodeOf(TEMPERATURE))).value.value).toBe(95);
    expect(await conditionExists(before)).toBe(false);
    await before.stop();
    await unlimited.stop();

    // 95 is below the new High: back to normal, with an event; the journal has it.
    const raised = track(await startGateway(`${yaml}${limitsYaml("high: 100")}`));
    const otto = track(await connect(raised, "otto"));
    expect(await conditionExists(otto)).toBe(true);
    expect((await readBelow(otto, LIMIT_CONDITION, "/ActiveState/Id")).value.value).toBe(false);
    expect((await readBelow(otto, LIMIT_CONDITION, "/HighLimit")).value.value).toBe(100);
    const journal = await journalOf(otto, LIMIT_CONDITION, 2);
    expect(journal[0]).toMatchObject({ active: true, limitState: "High", time: RAISED });
    expect(journal.at(-1)).toMatchObject({ active: false, limitState: null });
    expect(journal.at(-1)!.message).toContain("back to normal");
  });

  it("does not bring back an active limit alarm an earlier gateway recorded without LimitState: the point's first value builds it, and one within the limits leaves it inactive", {
    timeout: 120_000,
  }, async () => {
    const { broker, yaml, connect, store } = await setUp();
    const limits = `${yaml}${limitsYaml("high: 90")}`;
    await raiseThenStop(limits, connect, broker.url, [
      { topic: TEMPERATURE, payload: temperature(95, RAISED) },
    ]);
    // The stored event as a gateway before the journal kept state machines recorded it.
    const db = openDb(store);
    const { fields } = db
      .prepare("SELECT fields FROM open_conditions WHERE condition = ?")
      .get(LIMIT_CONDITION) as { fields: Uint8Array };
    const old = unpackFields(fields);
    for (const key of old.keys()) if (key.startsWith("limitState.")) old.delete(key);
    db.prepare("UPDATE open_conditions SET fields = ? WHERE condition = ?").run(
      packFields(old),
      LIMIT_CONDITION,
    );
    db.close();

    const gw = track(await startGateway(limits));
    const otto = track(await connect(gw, "otto"));
    const conditionRead = await otto.session.read({
      nodeId: LIMIT_CONDITION,
      attributeId: AttributeIds.BrowseName,
    });
    expect(conditionRead.statusCode).toEqual(StatusCodes.BadNodeIdUnknown);
    await brokerConnected(otto);
    await publish(broker.url, [{ topic: TEMPERATURE, payload: temperature(60, CLEARED) }]);
    await waitStatus(otto, TEMPERATURE, StatusCodes.Good);
    expect((await readBelow(otto, LIMIT_CONDITION, "/ActiveState/Id")).value.value).toBe(false);
  });
});
