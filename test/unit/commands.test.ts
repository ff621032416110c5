import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { buildConfig } from "../../src/config/config-loader.js";
import {
  buildPayload,
  checkArguments,
  deviceOfReplyTopic,
  deviceReplyTopic,
  parseReply,
  renderTopic,
} from "../../src/mapping/command-encoding.js";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { checkCommands, loadCommands } from "../../src/model/command-catalog-loader.js";
import { DEFAULT_COMMANDS_FILE } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";

const catalog = loadCatalog();
const commands = loadCommands(DEFAULT_COMMANDS_FILE, catalog);
const byName = (name: string) => commands.find((c) => c.name === name)!;
const device = { deviceType: "3WA", deviceName: "Feeder 01", deviceSource: "ETU" };

describe("the shipped command catalog", () => {
  it("covers command & control, device configuration (48/0), firmware and load studies, QoS 2 by default", () => {
    expect(
      commands
        .filter((c) => !c.acknowledgeOf && !c.writeOf)
        .map((c) => c.name)
        .sort(),
    ).toEqual(
      [
        "NotifyFirmwareUpdate",
        "ResetEnergyCounters",
        "ResetMaxValues",
        "SendCommand",
        "SetGroupConfig",
        "SetTemperatureAlarmThreshold",
        "StartLoadStudy",
        "StopLoadStudy",
      ].sort(),
    );
    expect(commands.every((c) => c.qos === 2)).toBe(true);
    expect(byName("SendCommand").on).toEqual([]);
    expect(renderTopic(byName("SetGroupConfig"), { ...device, deviceType: "50" })).toBe(
      "cmd/48/0/50/Feeder 01/ETU",
    );
  });

  it("rejects a command on an unknown folder, an unknown placeholder and a payload naming no input, with lines", () => {
    const dir = mkdtempSync(join(tmpdir(), "smartgear-cmd-"));
    const file = join(dir, "commands.yaml");
    const text = readFileSync(DEFAULT_COMMANDS_FILE, "utf8");
    const lines = text.split("\n").length;
    writeFileSync(
      file,
      `${text.trimEnd()}\n  - { name: Bad, description: x, on: PowerQuality/Nowhere, family: "11", id: "1", topic: "cmd/{site}", payload: { v: "{input:Missing}" }, inputs: [] }\n`,
    );
    const { commands: none, problems } = checkCommands(file, catalog);
    expect(none).toBeUndefined();
    expect(problems.map((p) => `${p.line} ${p.message}`)).toEqual([
      `${lines} command Bad: folder 'PowerQuality/Nowhere' is not a folder of the catalog`,
      `${lines} command Bad: topic placeholder {site} is not one of {family} {id} {deviceType} {deviceName} {deviceSource}`,
      `${lines} command Bad: payload names input 'Missing', which is not declared`,
    ]);
  });

  it("rejects an input named CommandId, the name of every method's own last argument", () => {
    const dir = mkdtempSync(join(tmpdir(), "smartgear-cmd-"));
    const file = join(dir, "commands.yaml");
    const text = readFileSync(DEFAULT_COMMANDS_FILE, "utf8");
    writeFileSync(
      file,
      `${text.trimEnd()}\n  - { name: Twice, description: x, on: PowerQuality, family: "11", id: "1", payload: { id: "{input:CommandId}" }, inputs: [{ name: CommandId, dataType: String, description: x }] }\n`,
    );
    const { commands: none, problems } = checkCommands(file, catalog);
    expect(none).toBeUndefined();
    expect(problems.map((p) => p.message)).toEqual([
      "command Twice: an input may not be named CommandId, the gateway's own last argument",
    ]);
  });
});

describe("command encoding", () => {
  it("checks each argument: type, range, enumeration, JSON object", () => {
    expect(checkArguments(byName("ResetMaxValues"), ["THD"])).toEqual({ ok: true, values: { Scope: "THD" } });
    expect(checkArguments(byName("ResetMaxValues"), ["Everything"])).toMatchObject({
      ok: false,
      status: StatusCodes.BadInvalidArgument,
    });
    expect(checkArguments(byName("SetTemperatureAlarmThreshold"), [250, 5])).toMatchObject({
      ok: false,
      status: StatusCodes.BadOutOfRange,
      results: [StatusCodes.BadOutOfRange, StatusCodes.Good],
    });
    expect(checkArguments(byName("StartLoadStudy"), ["30"])).toMatchObject({
      ok: false,
      status: StatusCodes.BadTypeMismatch,
    });
    expect(checkArguments(byName("StartLoadStudy"), [31])).toMatchObject({
      ok: false,
      status: StatusCodes.BadOutOfRange,
    });
    expect(checkArguments(byName("SendCommand"), ["go", "[1]"])).toMatchObject({
      ok: false,
      status: StatusCodes.BadInvalidArgument,
    });
    expect(checkArguments(byName("SendCommand"), ["go"])).toMatchObject({
      ok: false,
      status: StatusCodes.BadArgumentsMissing,
    });
  });

  it("builds the payload from the template with typed values and the envelope", () => {
    const payload = buildPayload(
      byName("SetTemperatureAlarmThreshold"),
      { MaxTemperature: 90, Hysteresis: 5 },
      { commandId: "c1", ts: "2026-01-01T00:00:00.000Z" },
    );
    expect(JSON.parse(payload)).toEqual({
      commandId: "c1",
      ts: "2026-01-01T00:00:00.000Z",
      command: "SetTemperatureAlarmThreshold",
      maxTemperature: 90,
      hysteresis: 5,
    });
  });

  it("reads a device's answer by correlation id or MQTT 5 correlation data", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(parseReply(enc('{"correlationId": "c1", "status": "ok"}'))).toMatchObject({
      correlationId: "c1",
      status: "ok",
    });
    expect(parseReply(enc("done"), enc("c2"))).toEqual({
      correlationId: "c2",
      status: "unknown",
      text: "done",
    });
    expect(parseReply(enc("garbage"))).toMatchObject({ correlationId: null });
  });

  it("gives each device its own reply topic and reads the device back from it, nothing else", () => {
    const topic = deviceReplyTopic("reply/gw", device);
    expect(topic).toBe("reply/gw/3WA/Feeder 01/ETU");
    expect(deviceOfReplyTopic("reply/gw", topic)).toEqual(device);
    // Another gateway's replies, too few or too many levels, an empty level: no device.
    for (const other of [
      "reply/gw2/3WA/Feeder 01/ETU",
      "reply/gw/3WA/Feeder 01",
      "reply/gw/3WA/Feeder 01/ETU/x",
      "reply/gw/3WA//ETU",
      "reply/gw",
    ])
      expect(deviceOfReplyTopic("reply/gw", other), other).toBeNull();
  });

  it("takes as commands.replyTopic a prefix with {clientId}, without wildcards or a trailing /", () => {
    const problems = (replyTopic: string) =>
      buildConfig(parseYamlText(`commands: { replyTopic: "${replyTopic}" }`, "/tmp/x.yaml"), {}).problems
        .length;
    expect(problems("site-a/{clientId}/replies")).toBe(0);
    for (const bad of ["reply/{clientId}/", "reply/+/{clientId}", "reply/{clientId}/#", "reply/gateway"])
      expect(problems(bad), bad).toBe(1);
  });
});
