import net from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import { generate, type IPublishPacket, type Packet, parser } from "mqtt-packet";
import { type CallMethodResult, StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { startAedes, startMosquitto } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { callSendCommand, commandsSetup, sendCommand } from "../harness/commands-rig.js";
import { startGateway } from "../harness/gateway.js";
import type { TestClient } from "../harness/opcua-client.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

/**
 * Issue 7, item 4: commands under faults. A call refused during a broker outage is never
 * published later; a late reply is counted and never given to another call; every call carries
 * a fresh command id, which a QoS 2 redelivery repeats so that a device can drop the duplicate.
 */

const outputs = (r: CallMethodResult) => (r.outputArguments ?? []).map((v) => v.value as string);
const lateReplies = async (client: TestClient) =>
  Number((await client.read("ns=2;s=Gateway/Commands/LateReplies")).value.value[1]);

interface Command {
  topic: string;
  body: { commandId: string; command: string; replyTo?: string; correlationId?: string };
}

/**
 * A device on MQTT 3.1.1 that records every command; `answer` decides whether (and with what
 * status) it answers. With a fixed `clientId` its session persists across reconnects (clean false).
 */
async function startDevice(
  url: string,
  options: { clientId?: string; answer?: (c: Command) => string | null } = {},
) {
  const client: MqttClient = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: options.clientId ?? `device-${Math.random()}`,
    clean: !options.clientId,
    reconnectPeriod: options.clientId ? 100 : 0,
  });
  const received: Command[] = [];
  const reply = (c: Command, status: string) =>
    client.publishAsync(
      String(c.body.replyTo),
      JSON.stringify({ correlationId: c.body.correlationId, status, echo: c.body.command }),
      { qos: 1 },
    );
  client.on("message", (topic, payload) => {
    const c: Command = { topic, body: JSON.parse(payload.toString()) };
    received.push(c);
    const status = options.answer?.(c);
    if (status) void reply(c, status);
  });
  await client.subscribeAsync("cmd/+/+/+/+/+", { qos: 2 });
  return { client, received, reply, stop: () => client.endAsync() };
}

describe("commands during a broker outage (external aedes)", () => {
  const s = commandsSetup(2000);
  const { defer } = useCleanups();

  it("refuses every call while the broker is away with BadNoCommunication and never publishes one later", async () => {
    const broker = await startAedes();
    defer(() => broker.stop());
    const gw = await startGateway(
      s.yaml(
        `mqtt:\n  url: ${broker.url}\n  clientId: gw-outage-${process.pid}\n  reconnectPeriod: 200\n  reconnectPeriodMax: 400\n`,
      ),
    );
    defer(() => gw.stop());
    // A device with a persistent QoS 2 session: anything the gateway published while it was
    // cut off would be queued for it by the broker and delivered when it is back.
    const device = await startDevice(broker.url, {
      clientId: `device-outage-${process.pid}`,
      answer: () => "ok",
    });
    defer(() => device.stop());
    const client = await s.operator(gw.endpointUrl);
    defer(() => client.stop());
    await waitFor("connected", () => gw.gateway.ingest!.isConnected);

    const good = new Set<string>();
    const before = await callSendCommand(client, "before");
    expect(before.statusCode).toEqual(StatusCodes.Good);
    good.add(outputs(before)[0]!);

    await broker.pause();
    await waitFor("disconnected", () => !gw.gateway.ingest!.isConnected);
    const during = await Promise.all(
      Array.from({ length: 5 }, (_, i) => callSendCommand(client, `during-${i}`)),
    );
    for (let i = 5; i < 10; i++) during.push(await callSendCommand(client, `during-${i}`));
    expect(during.map((r) => r.statusCode.name)).toEqual(Array(10).fill("BadNoCommunication"));

    // Across the reconnect: calls keep coming while the gateway finds the broker again. Each is
    // refused (not connected yet) or published and answered; none is held back for later.
    await broker.resume();
    const across: CallMethodResult[] = [];
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const r = await callSendCommand(client, `across-${across.length}`);
      across.push(r);
      if (r.statusCode === StatusCodes.Good && across.length > 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const r of across) {
      expect(["Good", "BadNoCommunication"]).toContain(r.statusCode.name);
      if (r.statusCode === StatusCodes.Good) good.add(outputs(r)[0]!);
    }
    const refused = 10 + across.filter((r) => r.statusCode === StatusCodes.BadNoCommunication).length;
    expect(refused).toBeGreaterThan(10);

    // Give a wrongly kept message every chance to come out: the device is reconnected and waits.
    await waitFor("device reconnected", () => device.client.connected);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const delivered = device.received.map((c) => c.body.commandId);
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(new Set(delivered)).toEqual(good);
    expect(device.received.some((c) => c.body.command.startsWith("during"))).toBe(false);

    // Nothing published and left waiting for the broker, to go out on a later connection.
    expect(gw.gateway.diagnostics().commands?.unacknowledged).toBe(0);
    console.info(
      `[reliability] outage: ${refused} calls refused BadNoCommunication (${across.length} across the reconnect), ${good.size} published, 0 published late`,
    );
  }, 40_000);
});

describe("late replies (embedded broker, 3.1.1-style correlation in the payload)", () => {
  const s = commandsSetup(600);
  const { defer } = useCleanups();

  it("counts a reply that comes after its call gave up, and never hands it to the call in flight", async () => {
    const gw = await startGateway(s.yaml());
    defer(() => gw.stop());
    // The device answers only when the test says so.
    const device = await startDevice(gw.brokerUrl);
    defer(() => device.stop());
    const client = await s.operator(gw.endpointUrl);
    defer(() => client.stop());

    const first = await callSendCommand(client, "first");
    expect(first.statusCode).toEqual(StatusCodes.BadTimeout);
    const a = device.received[0]!;
    const late0 = await lateReplies(client);

    const second = callSendCommand(client, "second");
    const b = await waitFor("second command at the device", () => device.received[1]);
    expect(b.body.commandId).not.toBe(a.body.commandId);
    // The first call's answer arrives while the second waits: counted, not delivered.
    await device.reply(a, "late-first");
    await waitFor("late reply counted", async () => (await lateReplies(client)) === late0 + 1);
    await device.reply(b, "ok-second");
    const r = await second;
    expect(r.statusCode).toEqual(StatusCodes.Good);
    const [commandId, deviceStatus, reply] = outputs(r);
    expect(commandId).toBe(b.body.commandId);
    expect(deviceStatus).toBe("ok-second");
    expect(JSON.parse(reply!)).toMatchObject({ correlationId: b.body.correlationId, status: "ok-second" });

    // A duplicate answer to the second (the device repeats itself) is counted the same way.
    await device.reply(b, "ok-second-again");
    await waitFor("duplicate reply counted", async () => (await lateReplies(client)) === late0 + 2);
  });
});

describe("command ids and duplicates", () => {
  const s = commandsSetup(5000);
  const { defer } = useCleanups();

  it("gives each of 200 calls its own command id, and the device sees each once", async () => {
    const gw = await startGateway(s.yaml());
    defer(() => gw.stop());
    const device = await startDevice(gw.brokerUrl, { answer: () => "ok" });
    defer(() => device.stop());
    const client = await s.operator(gw.endpointUrl);
    defer(() => client.stop());
    // Two Call requests of 100 methods each (opcua.limits.maxNodesPerMethodCall): concurrent calls.
    const results: CallMethodResult[] = [];
    const started = performance.now();
    for (let batch = 0; batch < 2; batch++)
      results.push(
        ...((await client.session.call(
          Array.from({ length: 100 }, (_, i) => sendCommand(`c${batch * 100 + i}`)),
        )) as CallMethodResult[]),
      );
    const ms = performance.now() - started;
    expect(results.every((r) => r.statusCode === StatusCodes.Good)).toBe(true);
    // node-opcua runs the methods of one Call request one after another: 200 round trips through
    // the broker and the device. Nagle's algorithm on the embedded broker's sockets made each ~50 ms.
    console.info(
      `[reliability] 200 calls answered in ${ms.toFixed(0)} ms (${(ms / 200).toFixed(1)} ms each)`,
    );
    expect(ms).toBeLessThan(5000);
    const ids = results.map((r) => outputs(r)[0]!);
    expect(new Set(ids).size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor("200 commands at the device", () => device.received.length >= 200);
    expect(new Set(device.received.map((c) => c.body.commandId))).toEqual(new Set(ids));
    expect(device.received).toHaveLength(200);
  });

  for (const kind of ["aedes", "mosquitto"] as const)
    it(
      `repeats the command id when ${kind} redelivers a QoS 2 command after the device reconnects`,
      kind === "mosquitto" ? needs("mosquitto") : {},
      async () => {
        const broker = kind === "aedes" ? await startAedes() : await startMosquitto();
        defer(() => broker.stop());
        // The raw device speaks MQTT 3.1.1 and reads its reply address from the payload, which the
        // gateway fills only when it speaks 3.1.1 too (README, Commands: answers).
        const gw = await startGateway(
          s.yaml(
            `mqtt:\n  url: ${broker.url}\n  clientId: gw-dup-${kind}-${process.pid}\n  protocolVersion: 4\n`,
          ),
        );
        defer(() => gw.stop());
        await waitFor("connected", () => gw.gateway.ingest!.isConnected);
        const device = new RawDevice(broker.port, `raw-device-${kind}-${process.pid}`);
        defer(async () => device.close());
        await device.connect();
        const client = await s.operator(gw.endpointUrl);
        defer(() => client.stop());

        const pending = callSendCommand(client, "once-only");
        // First delivery: the device drops the connection before PUBREC (a crash, a cut link).
        const first = await device.next();
        device.close();
        await device.connect();
        const again = await device.next();
        // The device recognises the command it already saw, completes the handshake and answers once.
        await device.complete(again);
        const a = JSON.parse(first.payload.toString()) as Command["body"];
        const b = JSON.parse(again.payload.toString()) as Command["body"];
        device.answer(b);
        const r = await pending;
        expect(r.statusCode).toEqual(StatusCodes.Good);
        expect(b.commandId).toBe(a.commandId);
        expect(outputs(r)[0]).toBe(a.commandId);
        expect(first.dup).toBe(false);
        expect(again.messageId).toBe(first.messageId);
        console.info(
          `[reliability] ${kind}: QoS 2 redelivery after reconnect, same commandId, messageId ${first.messageId}, DUP flag ${again.dup}`,
        );
        if (kind === "mosquitto") expect(again.dup).toBe(true);
        // aedes 1.2 resends the stored PUBLISH without setting DUP: the command id is what tells.
        else expect(again.dup).toBe(false);
      },
    );
});

/**
 * An MQTT 3.1.1 device on a raw socket, so that the test decides when (and whether) PUBREC goes
 * out, which MQTT.js does by itself. Persistent session (clean false), QoS 2 subscription.
 */
class RawDevice {
  private socket: net.Socket | null = null;
  private readonly inbox: Packet[] = [];
  private waiter: (() => void) | null = null;

  constructor(
    private readonly port: number,
    private readonly clientId: string,
  ) {}

  async connect(): Promise<void> {
    const socket = net.connect(this.port, "127.0.0.1");
    this.socket = socket;
    const p = parser({ protocolVersion: 4 });
    p.on("packet", (packet: Packet) => {
      this.inbox.push(packet);
      this.waiter?.();
    });
    socket.on("data", (d) => p.parse(d));
    socket.on("error", () => {});
    this.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: false,
      clientId: this.clientId,
      keepalive: 30,
    });
    const connack = await this.nextOf("connack");
    if (!("sessionPresent" in connack)) throw new Error("no connack");
    this.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "cmd/+/+/+/+/+", qos: 2 }] });
    await this.nextOf("suback");
  }

  /** The next PUBLISH. */
  next(): Promise<IPublishPacket> {
    return this.nextOf("publish") as Promise<IPublishPacket>;
  }

  /** PUBREC, then PUBCOMP once the broker's PUBREL is in. */
  async complete(p: IPublishPacket): Promise<void> {
    this.send({ cmd: "pubrec", messageId: p.messageId });
    await this.nextOf("pubrel");
    this.send({ cmd: "pubcomp", messageId: p.messageId });
  }

  answer(body: Command["body"]): void {
    this.send({
      cmd: "publish",
      topic: String(body.replyTo),
      payload: JSON.stringify({ correlationId: body.correlationId, status: "ok" }),
      qos: 0,
      dup: false,
      retain: false,
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
    this.inbox.length = 0;
  }

  private send(packet: Packet): void {
    this.socket!.write(generate(packet));
  }

  private async nextOf(cmd: Packet["cmd"]): Promise<Packet> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const i = this.inbox.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no ${cmd} within 5 s`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }
}
