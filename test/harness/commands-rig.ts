import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallMethodResult, DataType, StatusCodes } from "node-opcua";
import { hashPassword } from "../../src/security/password-hash.js";
import { DEFAULT_COMMANDS_FILE } from "../../src/shared/paths.js";
import { connectTrusted, type TestClient } from "./opcua-client.js";
import type { startSimulator } from "./simulator.js";
import { waitFor } from "./wait.js";

/**
 * What calling commands over OPC UA takes (tests and `npm run soak` alike): a gateway
 * configuration with one Operator, the shipped commands answering within `timeoutMs`, and one
 * device, Feeder 01; a trusted client signed in as that Operator; SendCommand calls.
 */

const FEEDER = "Devices/3WA/Feeder 01/ETU";
const PASSWORD = "operator-pw";

export type CommandsSetup = ReturnType<typeof commandsSetup>;

/** A users file with one Operator, the shipped commands with `timeoutMs` replies, one device. */
export function commandsSetup(timeoutMs: number) {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-cmd-faults-"));
  const usersFile = join(dir, "users.yaml");
  writeFileSync(
    usersFile,
    `users:\n  - { username: otto, passwordHash: "${hashPassword(PASSWORD)}", roles: [Operator] }\n`,
  );
  const commandsFile = join(dir, "commands.yaml");
  writeFileSync(
    commandsFile,
    readFileSync(DEFAULT_COMMANDS_FILE, "utf8").replace(/timeoutMs: \d+/g, `timeoutMs: ${timeoutMs}`),
  );
  // `member`: one gateway of a redundant pair, with its own certificate store and ApplicationUri.
  const serverPkiOf = (member = "") => join(dir, `server-pki${member && `-${member}`}`);
  const yaml = (mqttSection = "", member = "") =>
    `opcua:\n  port: 0\n  pkiFolder: ${JSON.stringify(serverPkiOf(member))}\n  usersFile: ${JSON.stringify(usersFile)}\n  securityPolicies: [None, Basic256Sha256]\n` +
    (member && `  applicationUri: urn:smartgear-test:commands-${member}\n`) +
    `commands:\n  file: ${JSON.stringify(commandsFile)}\n` +
    "devices:\n  - { type: 3WA, name: Feeder 01, source: ETU }\n" +
    mqttSection;
  const operator = (endpointUrl: string, member = "") =>
    connectTrusted(endpointUrl, serverPkiOf(member), {
      pkiFolder: join(dir, "client-pki"),
      user: { userName: "otto", password: PASSWORD },
    });
  return { yaml, operator };
}

/** The CallMethodRequest of Feeder 01's SendCommand with `command` and no arguments. */
export const sendCommand = (command: string) => ({
  objectId: `ns=2;s=${FEEDER}`,
  methodId: `ns=2;s=${FEEDER}/SendCommand`,
  inputArguments: [
    { dataType: DataType.String, value: command },
    { dataType: DataType.String, value: "{}" },
  ],
});

export const callSendCommand = (client: TestClient, command: string) =>
  client.session.call(sendCommand(command)) as Promise<CallMethodResult>;

/** The first Good answer to Feeder 01's SendCommand Reset, once the simulator `sim` has started. */
export const untilSimulatorAnswers = (client: TestClient, sim: ReturnType<typeof startSimulator>) =>
  waitFor(
    "the simulator answering",
    async () => {
      if (sim.exitCode !== null) throw new Error(`simulator exited: ${sim.output()}`);
      const r = await callSendCommand(client, "Reset");
      return r.statusCode.equals(StatusCodes.Good) ? r : null;
    },
    30_000,
    500,
  );
