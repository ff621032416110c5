import { describe, expect, it } from "vitest";
import {
  ALARM_ACKNOWLEDGEMENT_CALLER,
  alarmAcknowledgementRouter,
  SharedAcknowledgements,
} from "../../src/bridge/alarm-acknowledgements.js";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { loadCommands } from "../../src/model/command-catalog-loader.js";
import type { Caller, CommandPort } from "../../src/opcua/ports.js";
import { DEFAULT_COMMANDS_FILE } from "../../src/shared/paths.js";

const catalog = loadCatalog();
const commands = loadCommands(DEFAULT_COMMANDS_FILE, catalog);
const device = { deviceType: "3WA", deviceName: "Feeder 01", deviceSource: "ETU" };

/** A command port that records what it is asked to send. */
function recordingPort() {
  const calls: { command: string; device: unknown; args: readonly unknown[]; caller: Caller }[] = [];
  const port: CommandPort = {
    call: async (command, to, args, caller) => {
      calls.push({ command: command.name, device: to, args, caller });
      return { status: undefined as never, commandId: "", deviceStatus: "", reply: "" };
    },
  };
  return { port, calls };
}

describe("alarm acknowledgements sent to the device", () => {
  it("send the catalog's command for an acknowledged alarm point, as the named system caller of the audit line", () => {
    const { port, calls } = recordingPort();
    const route = alarmAcknowledgementRouter(commands, port);
    route(catalog.byTopicId.get("48/1")!, device, "Acknowledged", "seen, crew sent");
    expect(calls).toEqual([
      {
        command: "AcknowledgePhase1MaxTempAlarm",
        device,
        args: ["Acknowledged", "seen, crew sent"],
        caller: ALARM_ACKNOWLEDGEMENT_CALLER,
      },
    ]);
    // The audit line names the OPC UA method: node-opcua's event does not say who acknowledged.
    expect(ALARM_ACKNOWLEDGEMENT_CALLER).toEqual({
      user: "(OPC UA Acknowledge/Confirm)",
      session: "",
      roles: ["Operator"],
      secure: true,
    });
  });

  it("send nothing for an alarm point the command catalog has no acknowledgement command for", () => {
    const { port, calls } = recordingPort();
    const without = commands.filter((c) => c.acknowledgeOf !== "48/1");
    alarmAcknowledgementRouter(without, port)(catalog.byTopicId.get("48/1")!, device, "Confirmed", "");
    expect(calls).toEqual([]);
  });
});

describe("acknowledgements shared by a redundant set (what every member sees on the broker)", () => {
  const applied: unknown[][] = [];
  const shared = new SharedAcknowledgements(commands, {
    applyShared: (...ack) => {
      applied.push(ack);
      return "applied";
    },
  });

  it("subscribe to each acknowledgement topic at its command's QoS", () => {
    expect(shared.subscriptions).toEqual([
      { topic: "cmd/48/1/+/+/+/ack", qos: 2 },
      { topic: "cmd/48/3/+/+/+/ack", qos: 2 },
      { topic: "cmd/48/4/+/+/+/ack", qos: 2 },
    ]);
  });

  it("apply an acknowledgement to the device and point its topic names, whoever published it", () => {
    const ack = '{"state": "Confirmed", "comment": "done", "command": "AcknowledgePhase1MaxTempAlarm"}';
    expect(shared.take("cmd/48/1/3WA/Feeder 01/ETU/ack", Buffer.from(ack))).toBe(true);
    expect(applied).toEqual([[device, "48/1", "Confirmed", "done"]]);
    expect(shared.counts.applied).toBe(1);
  });

  it("leave other topics to the point mirror, and refuse a payload that names no state", () => {
    expect(shared.take("11/5/3WA/Feeder 01/ETU", Buffer.from("230"))).toBe(false);
    expect(shared.take("cmd/48/2/3WA/Feeder 01/ETU/ack", Buffer.from("{}"))).toBe(false);
    expect(shared.take("cmd/48/1/3WA/Feeder 01/ETU/ack", Buffer.from("{"))).toMatchObject({
      reason: "invalidJson",
    });
    expect(shared.take("cmd/48/1/3WA/Feeder 01/ETU/ack", Buffer.from('{"state": "Seen"}'))).toMatchObject({
      reason: "noValue",
    });
    expect(applied).toHaveLength(1);
  });
});
