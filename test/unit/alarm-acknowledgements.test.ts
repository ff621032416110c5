import { describe, expect, it } from "vitest";
import {
  ALARM_ACKNOWLEDGEMENT_CALLER,
  alarmAcknowledgementRouter,
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
