import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import {
  AttributeIds,
  type CallMethodResult,
  constructEventFilter,
  DataType,
  MessageSecurityMode,
  ofType,
  SecurityPolicy,
  StatusCodes,
  type Variant,
} from "node-opcua";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildConfig } from "../../src/config/config-loader.js";
import { EmbeddedBroker } from "../../src/mqtt/embedded-broker.js";
import { hashPassword } from "../../src/security/password-hash.js";
import { getLogger } from "../../src/shared/logger.js";
import { DEFAULT_CATALOG_FILE, DEFAULT_COMMANDS_FILE, PROJECT_ROOT } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";
import { mosquittoPasswordFile, startAedes, startMosquitto } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, connectTrusted, type TestClient } from "../harness/opcua-client.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

const FEEDER = "Devices/3WA/Feeder 01/ETU";
const GROUP = "Devices/50/Group 01/PM";
const PASSWORDS = { olivia: "observer-pw", otto: "operator-pw", erin: "engineer-pw" } as const;

/** A scratch folder with a users file, the shipped commands with short reply timeouts, and a catalog in which 21/7 is writable. */
function setup(timeoutMs = 600) {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-commands-"));
  const usersFile = join(dir, "users.yaml");
  writeFileSync(
    usersFile,
    `users:\n  - { username: olivia, passwordHash: "${hashPassword(PASSWORDS.olivia)}", roles: [Observer] }\n` +
      `  - { username: otto, passwordHash: "${hashPassword(PASSWORDS.otto)}", roles: [Operator] }\n` +
      `  - { username: erin, passwordHash: "${hashPassword(PASSWORDS.erin)}", roles: [Engineer] }\n`,
  );
  const commandsFile = join(dir, "commands.yaml");
  writeFileSync(
    commandsFile,
    readFileSync(DEFAULT_COMMANDS_FILE, "utf8").replace(/timeoutMs: \d+/g, `timeoutMs: ${timeoutMs}`),
  );
  const catalogFile = join(dir, "catalog.yaml");
  const catalog = readFileSync(DEFAULT_CATALOG_FILE, "utf8");
  const writable = catalog.replace(
    "browseName: LongTimePickUp,",
    "browseName: LongTimePickUp, access: readWrite, writeRole: Engineer,",
  );
  if (writable === catalog) throw new Error("21/7 not found in the catalog");
  writeFileSync(catalogFile, writable);
  const serverPki = join(dir, "server-pki");
  const yaml = (mqttSection = "") =>
    `opcua:\n  port: 0\n  pkiFolder: ${JSON.stringify(serverPki)}\n  usersFile: ${JSON.stringify(usersFile)}\n  securityPolicies: [None, Basic256Sha256]\n` +
    `catalog: ${JSON.stringify(catalogFile)}\ncommands:\n  file: ${JSON.stringify(commandsFile)}\n` +
    'devices:\n  - { type: 3WA, name: Feeder 01, source: ETU }\n  - { type: "50", name: Group 01, source: PM }\n' +
    mqttSection;
  /** An OPC UA session of `user` over Basic256Sha256 Sign & Encrypt, its certificate trusted. */
  const connectAs = (endpointUrl: string, user: keyof typeof PASSWORDS) =>
    connectTrusted(endpointUrl, serverPki, {
      pkiFolder: join(dir, "client-pki"),
      user: { userName: user, password: PASSWORDS[user] },
    });
  return { dir, serverPki, yaml, connectAs };
}

interface Received {
  topic: string;
  qos: number;
  body: Record<string, unknown>;
  properties: mqtt.IPublishPacket["properties"];
}

/** A device on the broker: records every command and, unless told not to, answers it. */
async function startDevice(url: string, protocolVersion: 4 | 5, answer: "reply" | "silent" = "reply") {
  const client: MqttClient = await mqtt.connectAsync(url, {
    protocolVersion,
    clientId: `device-${Math.random()}`,
    reconnectPeriod: 0,
  });
  const received: Received[] = [];
  client.on("message", (topic, payload, packet) => {
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    received.push({ topic, qos: packet.qos, body, properties: packet.properties });
    if (answer === "silent") return;
    const props = packet.properties;
    if (props?.responseTopic)
      // MQTT 5: the answer goes back by the response topic, matched by correlation data alone.
      client.publish(props.responseTopic, JSON.stringify({ status: "ok", echo: body.command }), {
        qos: 1,
        properties: { correlationData: props.correlationData },
      });
    else if (typeof body.replyTo === "string")
      client.publish(
        body.replyTo,
        JSON.stringify({ correlationId: body.correlationId, status: "ok", echo: body.command }),
        { qos: 1 },
      );
  });
  // Commands have six levels (cmd/family/id/type/name/source), writes seven.
  await client.subscribeAsync(["cmd/+/+/+/+/+", "cmd/+/+/+/+/+/set"], { qos: 2 });
  return { client, received, stop: () => client.endAsync() };
}

const call = (
  client: TestClient,
  object: string,
  method: string,
  args: { dataType: DataType; value: unknown }[],
) =>
  client.session.call({
    objectId: `ns=2;s=${object}`,
    methodId: `ns=2;s=${object}/${method}`,
    inputArguments: args,
  }) as Promise<CallMethodResult>;
const outputs = (r: CallMethodResult) => (r.outputArguments ?? []).map((v) => v.value as string);
const str = (value: string) => ({ dataType: DataType.String, value });
/** smartgear_command_refused_replies_total from the gateway's /metrics. */
const refusedReplies = async (httpUrl: string) =>
  Number(
    /^smartgear_command_refused_replies_total (\d+)$/m.exec(
      await (await fetch(`${httpUrl}/metrics`)).text(),
    )?.[1],
  );
/** A client that logs in to the broker as `username` (MQTT.js reconnects disabled). */
const login = (url: string, protocolVersion: 4 | 5, username: string, password: string) =>
  mqtt.connectAsync(url, { protocolVersion, username, password, reconnectPeriod: 0 });

describe("OPC UA methods publish MQTT commands (embedded aedes broker, MQTT 3.1.1 devices)", () => {
  const s = setup();
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let device: Awaited<ReturnType<typeof startDevice>>;
  const clients: Partial<Record<keyof typeof PASSWORDS, TestClient>> = {};

  beforeAll(async () => {
    gw = await startGateway(s.yaml());
    for (const user of Object.keys(PASSWORDS) as (keyof typeof PASSWORDS)[])
      clients[user] = await connectTrusted(gw.endpointUrl, s.serverPki, {
        pkiFolder: join(s.dir, "client-pki"),
        user: { userName: user, password: PASSWORDS[user] },
      });
  });
  afterAll(async () => {
    for (const c of Object.values(clients)) await c?.stop();
    await gw?.stop();
  });
  afterEach(async () => {
    await device?.stop();
  });

  it("publishes exactly one QoS 2 message on the command topic and returns the device's answer", async () => {
    device = await startDevice(gw.brokerUrl, 4);
    const r = await call(clients.otto!, `${FEEDER}/PowerQuality`, "ResetMaxValues", [str("THD")]);
    expect(r.statusCode).toEqual(StatusCodes.Good);
    const [commandId, deviceStatus, reply] = outputs(r);
    expect(deviceStatus).toBe("ok");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(device.received).toHaveLength(1);
    const m = device.received[0]!;
    expect(m.topic).toBe("cmd/11/0/3WA/Feeder 01/ETU");
    expect(m.qos).toBe(2);
    expect(m.body).toMatchObject({ commandId, command: "ResetMaxValues", scope: "THD" });
    // MQTT 3.1.1: the reply topic and correlation id are in the payload; the device's own reply
    // topic, and a correlation id that is not the commandId every payload shows.
    expect(m.body.replyTo).toBe(`reply/${gw.config.mqtt.clientId}/3WA/Feeder 01/ETU`);
    expect(m.body.correlationId).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(reply!)).toEqual({
      correlationId: m.body.correlationId,
      status: "ok",
      echo: "ResetMaxValues",
    });
  });

  it("carries typed arguments and JSON objects into the payload", async () => {
    device = await startDevice(gw.brokerUrl, 4);
    const cfg = '{"maxTemp": 90, "phases": [1, 2, 3]}';
    expect(
      (await call(clients.erin!, `${GROUP}/PredictiveMaintenance`, "SetGroupConfig", [str(cfg)])).statusCode,
    ).toEqual(StatusCodes.Good);
    const start = await call(clients.otto!, `${FEEDER}/Compliance/LoadStudy`, "StartLoadStudy", [
      { dataType: DataType.UInt16, value: 365 },
    ]);
    expect(start.statusCode).toEqual(StatusCodes.Good);
    expect(device.received.map((m) => [m.topic, m.body.config ?? m.body.days])).toEqual([
      ["cmd/48/0/50/Group 01/PM", { maxTemp: 90, phases: [1, 2, 3] }],
      ["cmd/21/23/3WA/Feeder 01/ETU", 365],
    ]);
  });

  it("refuses bad arguments with the status of each and publishes nothing", async () => {
    device = await startDevice(gw.brokerUrl, 4);
    const bad = await call(clients.otto!, `${FEEDER}/PowerQuality`, "ResetMaxValues", [str("Everything")]);
    expect(bad.statusCode).toEqual(StatusCodes.BadInvalidArgument);
    expect(bad.inputArgumentResults).toEqual([StatusCodes.BadInvalidArgument]);
    const range = await call(
      clients.erin!,
      `${GROUP}/PredictiveMaintenance/Alarms`,
      "SetTemperatureAlarmThreshold",
      [
        { dataType: DataType.Double, value: 500 },
        { dataType: DataType.Double, value: 5 },
      ],
    );
    expect(range.statusCode).toEqual(StatusCodes.BadOutOfRange);
    expect(range.inputArgumentResults).toEqual([StatusCodes.BadOutOfRange, StatusCodes.Good]);
    const json = await call(clients.otto!, FEEDER, "SendCommand", [str("open"), str("not json")]);
    expect(json.statusCode).toEqual(StatusCodes.BadInvalidArgument);
    const type = await call(clients.otto!, `${FEEDER}/Compliance/LoadStudy`, "StartLoadStudy", [
      str("thirty"),
    ]);
    expect(type.statusCode.isGood()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(device.received).toEqual([]);
  });

  it("refuses callers without the command's role with BadUserAccessDenied, publishing nothing, and audits both", async () => {
    device = await startDevice(gw.brokerUrl, 4);
    const audits: string[] = [];
    const sub = await clients.erin!.session.createSubscription2({
      requestedPublishingInterval: 50,
      publishingEnabled: true,
      requestedMaxKeepAliveCount: 10,
      requestedLifetimeCount: 100,
    });
    const fields = ["EventType", "Message", "ClientUserId", "Status"];
    const events = await sub.monitor(
      { nodeId: "i=2253", attributeId: AttributeIds.EventNotifier },
      { queueSize: 100, filter: constructEventFilter(fields, ofType("AuditUpdateMethodEventType")) },
      2,
    );
    events.on("changed", (values: Variant[]) =>
      audits.push(`${values[2]!.value} ${values[1]!.value.text} ${values[3]!.value}`),
    );
    const observer = await call(clients.olivia!, `${FEEDER}/PowerQuality`, "ResetMaxValues", [str("All")]);
    expect(observer.statusCode).toEqual(StatusCodes.BadUserAccessDenied);
    const operator = await call(clients.otto!, `${FEEDER}/PowerQuality/Energy`, "ResetEnergyCounters", []);
    expect(operator.statusCode).toEqual(StatusCodes.BadUserAccessDenied);
    const engineer = await call(clients.erin!, `${FEEDER}/PowerQuality/Energy`, "ResetEnergyCounters", []);
    expect(engineer.statusCode).toEqual(StatusCodes.Good);
    expect(device.received.map((m) => m.body.command)).toEqual(["ResetEnergyCounters"]);
    await waitFor("three audit events", () => audits.length >= 3);
    // The message names the device and the commandId it was (or would have been) sent with.
    const id = "\\(commandId [0-9a-f-]{36}\\)";
    expect(audits).toHaveLength(3);
    expect(audits[0]).toMatch(
      new RegExp(`^olivia ResetMaxValues on 3WA/Feeder 01/ETU: BadUserAccessDenied ${id} false$`),
    );
    expect(audits[1]).toMatch(
      new RegExp(`^otto ResetEnergyCounters on 3WA/Feeder 01/ETU: BadUserAccessDenied ${id} false$`),
    );
    expect(audits[2]).toMatch(new RegExp(`^erin ResetEnergyCounters on 3WA/Feeder 01/ETU: Good ${id} true$`));
    await sub.terminate();
  });

  it("never takes a command over SecurityPolicy None, even from an Operator", async () => {
    device = await startDevice(gw.brokerUrl, 4);
    const plain = await connectClient(gw.endpointUrl, {
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      pkiFolder: join(s.dir, "client-pki"),
      user: { userName: "otto", password: PASSWORDS.otto },
    });
    try {
      const r = await call(plain, `${FEEDER}/PowerQuality`, "ResetMaxValues", [str("All")]);
      expect(r.statusCode).toEqual(StatusCodes.BadSecurityModeInsufficient);
    } finally {
      await plain.stop();
    }
    expect(device.received).toEqual([]);
  });

  it("answers BadTimeout when the device does not answer, and counts a late answer without delivering it", async () => {
    device = await startDevice(gw.brokerUrl, 4, "silent");
    const r = await call(clients.otto!, FEEDER, "SendCommand", [str("blink"), str('{"times": 3}')]);
    expect(r.statusCode).toEqual(StatusCodes.BadTimeout);
    expect(device.received).toHaveLength(1);
    const late = device.received[0]!.body;
    expect(late).toMatchObject({ command: "blink", args: { times: 3 } });
    const lateBefore = (await clients.otto!.read("ns=2;s=Gateway/Commands/LateReplies")).value.value[1];
    await device.client.publishAsync(
      String(late.replyTo),
      JSON.stringify({ correlationId: late.correlationId, status: "ok" }),
    );
    await waitFor(
      "late reply counted",
      async () =>
        (await clients.otto!.read("ns=2;s=Gateway/Commands/LateReplies")).value.value[1] === lateBefore + 1,
    );
    expect(
      (await clients.otto!.read("ns=2;s=Gateway/Commands/TimedOut")).value.value[1],
    ).toBeGreaterThanOrEqual(1);
  });

  it("turns an Engineer's Write of a writable point into one QoS 2 message on its set topic, value unchanged", async () => {
    device = await startDevice(gw.brokerUrl, 4);
    const nodeId = "ns=2;s=21/7/3WA/Feeder 01/ETU";
    const write = (client: TestClient, value: number) =>
      client.session.write({
        nodeId,
        attributeId: AttributeIds.Value,
        value: { value: { dataType: DataType.Double, value } },
      });
    expect(await write(clients.otto!, 400)).toEqual(StatusCodes.BadUserAccessDenied);
    expect(await write(clients.erin!, 99999)).toEqual(StatusCodes.BadOutOfRange);
    expect(await write(clients.erin!, 400)).toEqual(StatusCodes.Good);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(device.received.map((m) => [m.topic, m.qos, m.body.value, m.body.command])).toEqual([
      ["cmd/21/7/3WA/Feeder 01/ETU/set", 2, 400, "WriteLongTimePickUp"],
    ]);
    // The variable shows what the device reports, not what was asked of it.
    expect((await clients.erin!.read(nodeId)).statusCode).toEqual(StatusCodes.BadWaitingForInitialData);
    const readOnly = await clients.erin!.session.write({
      nodeId: "ns=2;s=11/5/3WA/Feeder 01/ETU",
      attributeId: AttributeIds.Value,
      value: { value: { dataType: DataType.Double, value: 1 } },
    });
    expect(readOnly).toEqual(StatusCodes.BadNotWritable);
  });
});

/** The example's secured broker section, on a free loopback port without TLS, its users' passwords known. */
function secureExampleBroker(passwords: Record<string, string>): string {
  let yaml = readFileSync(join(PROJECT_ROOT, "config", "examples", "embedded-broker-secured.yaml"), "utf8")
    .replace("host: 0.0.0.0", "host: 127.0.0.1\n  port: 0")
    .replace("plainListener: false", "plainListener: true")
    .replace("enabled: true", "enabled: false");
  for (const [user, password] of Object.entries(passwords))
    yaml = yaml.replace(
      new RegExp(`(username: ${user}\n\\s+passwordHash: )"[^"]+"`),
      // A function: the hash's `$` must not be read as a replacement pattern.
      (_m, key: string) => `${key}"${hashPassword(password)}"`,
    );
  return yaml;
}

describe("forged answers with the example's secured embedded broker (its users and device ACL)", () => {
  const s = setup(5000);
  const { defer } = useCleanups();
  const passwords = { "feeder-01": "f1-pw", "feeder-02": "f2-pw" };

  it("warns at every start while the embedded broker takes anonymous clients, or has users and no ACL", async () => {
    const hash = hashPassword("pw");
    const cases = [
      ["broker: { port: 0 }", ["the embedded broker takes anonymous clients"]],
      [`broker: { port: 0, users: [{ username: a, passwordHash: "${hash}" }] }`, ["broker.acl is empty"]],
      [
        `broker: { port: 0, users: [{ username: a, passwordHash: "${hash}" }], acl: { a: { publish: ["11/#"] } } }`,
        [],
      ],
    ] as const;
    for (const [yaml, expected] of cases) {
      const { config } = buildConfig(parseYamlText(yaml, join(s.dir, "broker.yaml")), {});
      const logger = getLogger("test:broker");
      const warn = vi.spyOn(logger, "warn");
      const broker = new EmbeddedBroker(config!, logger);
      await broker.start({
        message() {},
        reply() {},
        connected() {},
        disconnected() {},
        subscriptions() {},
        sessionTakenOver() {},
      });
      await broker.stop();
      const warnings = warn.mock.calls.map(([message]) => String(message));
      warn.mockRestore();
      expect(warnings.filter((w) => /anonymous|acl is empty/.test(w)).map((w) => w.split(":")[0])).toEqual(
        expected,
      );
    }
  });

  it("accepts no forged answer: the ACL refuses another device's reply topic and cmd/, the gateway another device's answer", async () => {
    const gw = await startGateway(s.yaml(secureExampleBroker(passwords)));
    defer(() => gw.stop());
    const replyTo = `reply/${gw.config.mqtt.clientId}`;
    const operator = await s.connectAs(gw.endpointUrl, "otto");
    defer(() => operator.stop());
    // Feeder 01's device, with its own credentials: it reads its commands and answers when told.
    const device = await login(gw.brokerUrl, 4, "feeder-01", passwords["feeder-01"]);
    defer(() => device.endAsync());
    const commands: Record<string, unknown>[] = [];
    device.on("message", (_topic, payload) => commands.push(JSON.parse(payload.toString())));
    expect((await device.subscribeAsync("cmd/+/+/3WA/Feeder 01/ETU/#", { qos: 2 }))[0]?.qos).toBe(2);
    // The forger is a real device of the plant, Feeder 02, with its own credentials.
    const forger = await login(gw.brokerUrl, 4, "feeder-02", passwords["feeder-02"]);
    defer(() => forger.endAsync());
    // It cannot read the other device's commands: SUBACK 0x80 (MQTT 3.1.1 §3.9.3), which MQTT.js
    // turns into an error carrying the packet.
    const refused = await forger
      .subscribeAsync("cmd/#", { qos: 2 })
      .catch((err: { packet?: unknown }) => err.packet);
    expect(refused).toMatchObject({ granted: [128] });

    const pending = call(operator, `${FEEDER}/PowerQuality`, "ResetMaxValues", [str("All")]);
    const command = await waitFor("the command at Feeder 01", () => commands[0]);
    // Suppose the correlation id leaked anyway: answered on the forger's own reply topic, which
    // the ACL lets it use, the gateway refuses it, since the command went to another device.
    const forged = JSON.stringify({ correlationId: command.correlationId, status: "FORGED" });
    await forger.publishAsync(`${replyTo}/3WA/Feeder 02/ETU`, forged, { qos: 1 });
    await waitFor("the forged answer refused", async () => (await refusedReplies(gw.httpUrl)) === 1);
    // On Feeder 01's reply topic, or as a command, the broker refuses it: MQTT 3.1.1 cannot
    // refuse one PUBLISH, so the connection is closed and the message goes nowhere.
    for (const topic of [`${replyTo}/3WA/Feeder 01/ETU`, "cmd/11/98/3WA/Feeder 01/ETU"]) {
      const intruder = await login(gw.brokerUrl, 4, "feeder-02", passwords["feeder-02"]);
      const closed = new Promise<void>((resolve) => intruder.once("close", () => resolve()));
      intruder.publish(topic, forged, { qos: 0 });
      await closed;
      await intruder.endAsync(true);
    }

    // The call still waits for its device, and takes its answer.
    device.publish(
      String(command.replyTo),
      JSON.stringify({ correlationId: command.correlationId, status: "ok" }),
      {
        qos: 1,
      },
    );
    const r = await pending;
    expect(r.statusCode).toEqual(StatusCodes.Good);
    expect(outputs(r)[1]).toBe("ok");
    expect(commands.map((c) => c.command)).toEqual(["ResetMaxValues"]);
    expect(await refusedReplies(gw.httpUrl)).toBe(1);
  });
});

describe("commands through an external broker", () => {
  const s = setup();
  const { defer } = useCleanups();

  it("answers BadNoCommunication while the broker is down and never publishes the command later", async () => {
    const broker = await startAedes();
    defer(() => broker.stop());
    const gw = await startGateway(
      s.yaml(
        `mqtt:\n  url: ${broker.url}\n  clientId: gw-cmd-${process.pid}\n  reconnectPeriod: 200\n  reconnectPeriodMax: 400\n`,
      ),
    );
    defer(() => gw.stop());
    const client = await s.connectAs(gw.endpointUrl, "otto");
    defer(() => client.stop());
    await waitFor("connected", () => gw.gateway.ingest!.isConnected);
    await broker.pause();
    await waitFor("disconnected", () => !gw.gateway.ingest!.isConnected);
    const r = await call(client, `${FEEDER}/PowerQuality`, "ResetMaxValues", [str("All")]);
    expect(r.statusCode).toEqual(StatusCodes.BadNoCommunication);
    await broker.resume();
    const device = await startDevice(broker.url, 4);
    defer(() => device.stop());
    await waitFor("reconnected", () => gw.gateway.ingest!.isConnected, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(device.received).toEqual([]);
  });

  it(
    "under MQTT 5 (mosquitto) sends a response topic and correlation data, and matches the answer by them",
    needs("mosquitto"),
    async () => {
      const broker = await startMosquitto();
      defer(() => broker.stop());
      const gw = await startGateway(
        s.yaml(`mqtt:\n  url: ${broker.url}\n  clientId: gw-cmd5-${process.pid}\n`),
      );
      defer(() => gw.stop());
      const device = await startDevice(broker.url, 5);
      defer(() => device.stop());
      const client = await s.connectAs(gw.endpointUrl, "erin");
      defer(() => client.stop());
      await waitFor("connected", () => gw.gateway.ingest!.isConnected);
      const r = await call(client, FEEDER, "NotifyFirmwareUpdate", [str("4.2.1"), str("pkg://3wa/4.2.1")]);
      expect(r.statusCode).toEqual(StatusCodes.Good);
      const [commandId, deviceStatus] = outputs(r);
      expect(deviceStatus).toBe("ok");
      const m = device.received[0]!;
      expect(m.qos).toBe(2);
      expect(m.properties?.responseTopic).toBe(`reply/gw-cmd5-${process.pid}/3WA/Feeder 01/ETU`);
      expect(m.properties?.correlationData).toHaveLength(32);
      expect(Buffer.from(m.properties!.correlationData!).toString()).not.toBe(commandId);
      // MQTT 5 §4.10: the properties carry the reply's address; the payload carries neither.
      expect(m.body).toEqual({
        commandId,
        ts: expect.any(String),
        command: "NotifyFirmwareUpdate",
        version: "4.2.1",
        package: "pkg://3wa/4.2.1",
      });
    },
  );

  it(
    "under MQTT 5 (mosquitto, the README's acl_file) accepts no forged answer either",
    needs("mosquitto"),
    async () => {
      const clientId = `gw-acl5-${process.pid}`;
      const pw = { gateway: "gw-pw", "feeder-01": "f1-pw", "feeder-02": "f2-pw" };
      const passwords = mosquittoPasswordFile(join(s.dir, "mosquitto.passwd"), pw);
      const acl = join(s.dir, "mosquitto.acl");
      // README, Security: who can answer a command (mosquitto acl_file).
      writeFileSync(
        acl,
        `user gateway\ntopic read 11/#\ntopic read 21/#\ntopic read 48/#\ntopic write cmd/#\ntopic read reply/${clientId}/#\n\n` +
          ["01", "02"]
            .map(
              (n) =>
                `user feeder-${n}\ntopic write 11/+/3WA/Feeder ${n}/ETU\ntopic write 21/+/3WA/Feeder ${n}/ETU\n` +
                `topic read cmd/+/+/3WA/Feeder ${n}/ETU/#\ntopic write reply/${clientId}/3WA/Feeder ${n}/ETU\n`,
            )
            .join("\n"),
      );
      const broker = await startMosquitto(`password_file ${passwords}\nacl_file ${acl}\n`, {
        allowAnonymous: false,
      });
      defer(() => broker.stop());
      const gw = await startGateway(
        s.yaml(
          `mqtt:\n  url: ${broker.url}\n  clientId: ${clientId}\n  username: gateway\n  password: ${pw.gateway}\n`,
        ),
      );
      defer(() => gw.stop());
      const operator = await s.connectAs(gw.endpointUrl, "otto");
      defer(() => operator.stop());
      await waitFor("connected", () => gw.gateway.ingest!.isConnected);
      const device = await login(broker.url, 5, "feeder-01", pw["feeder-01"]);
      defer(() => device.endAsync());
      const commands: mqtt.IPublishPacket[] = [];
      device.on("message", (_topic, _payload, packet) => commands.push(packet));
      await device.subscribeAsync("cmd/+/+/3WA/Feeder 01/ETU/#", { qos: 2 });
      const forger = await login(broker.url, 5, "feeder-02", pw["feeder-02"]);
      defer(() => forger.endAsync());
      const overheard: unknown[] = [];
      forger.on("message", (topic) => overheard.push(topic));
      // mosquitto grants the filter and checks each message against the ACL when delivering it.
      await forger.subscribeAsync("cmd/#", { qos: 2 });

      const pending = call(operator, `${FEEDER}/PowerQuality`, "ResetMaxValues", [str("All")]);
      const command = await waitFor("the command at Feeder 01", () => commands[0]);
      const { responseTopic, correlationData } = command.properties!;
      expect(responseTopic).toBe(`reply/${clientId}/3WA/Feeder 01/ETU`);
      // Suppose the correlation data leaked: on Feeder 01's reply topic mosquitto refuses it
      // (PUBACK reason code 0x87, not authorized: MQTT 5 §3.4.2.1), on its own the gateway does.
      const forged = JSON.stringify({ status: "FORGED" });
      const refusedByBroker = await forger
        .publishAsync(responseTopic!, forged, { qos: 1, properties: { correlationData } })
        .then(
          () => 0,
          (err: { code?: number }) => err.code,
        );
      expect(refusedByBroker).toBe(0x87);
      await forger.publishAsync(`reply/${clientId}/3WA/Feeder 02/ETU`, forged, {
        qos: 1,
        properties: { correlationData },
      });
      await waitFor("the forged answer refused", async () => (await refusedReplies(gw.httpUrl)) === 1);
      const asCommand = await forger.publishAsync("cmd/11/98/3WA/Feeder 01/ETU", "{}", { qos: 1 }).then(
        () => 0,
        (err: { code?: number }) => err.code,
      );
      expect(asCommand).toBe(0x87);

      await device.publishAsync(responseTopic!, JSON.stringify({ status: "ok" }), {
        qos: 1,
        properties: { correlationData },
      });
      const r = await pending;
      expect(r.statusCode).toEqual(StatusCodes.Good);
      expect(outputs(r)[1]).toBe("ok");
      expect(commands).toHaveLength(1);
      expect(overheard).toEqual([]);
    },
  );
});
