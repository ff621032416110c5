import mqtt from "mqtt";
import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { useCleanups } from "../harness/cleanups.js";
import { callSendCommand, commandsSetup, untilSimulatorAnswers } from "../harness/commands-rig.js";
import { startGateway } from "../harness/gateway.js";
import { startSimulator } from "../harness/simulator.js";
import { waitFor } from "../harness/wait.js";

describe("the simulator's devices answer commands once per commandId", () => {
  const s = commandsSetup(5000);
  const { track, defer } = useCleanups();

  it("answers a command that comes again with its first result, without carrying it out twice", async () => {
    const gw = track(await startGateway(s.yaml()));
    const sim = track(startSimulator(["--url", gw.brokerUrl, "--devices", "1", "--rate", "20"]));
    // A client on the broker sees the commands and the answers, and plays the resend.
    const wire = await mqtt.connectAsync(gw.brokerUrl, { clientId: `wire-${process.pid}` });
    defer(() => wire.endAsync(true));
    const commands: { topic: string; payload: Buffer }[] = [];
    const answers: Record<string, unknown>[] = [];
    wire.on("message", (topic, payload) => {
      if (topic.startsWith("cmd/")) commands.push({ topic, payload });
      else answers.push(JSON.parse(String(payload)) as Record<string, unknown>);
    });
    await wire.subscribeAsync(["cmd/#", "reply/#"], { qos: 2 });
    const operator = await s.operator(gw.endpointUrl);
    defer(() => operator.stop());

    const first = await untilSimulatorAnswers(operator, sim);
    expect(first.outputArguments?.[1]?.value).toBe("ok");
    // The gateway's own subscription may see the answer before this client's socket does.
    const answer = await waitFor("the answer on the wire", () => answers.at(-1));
    const original = commands.at(-1)!;
    expect(answer).toMatchObject({
      status: "ok",
      command: "Reset",
      commandId: JSON.parse(String(original.payload)).commandId,
    });

    // The same command again, as the gateway's session resends it after a half-open link (or the
    // broker redelivers it): the device's answer is the first one, its execution count unchanged.
    const seen = answers.length;
    await wire.publishAsync(original.topic, original.payload, { qos: 2 });
    await waitFor("the answer to the resent command", () => answers.length > seen);
    expect(answers.at(-1)).toEqual(answer);

    // A new call is a new commandId: carried out.
    const second = await callSendCommand(operator, "Reset");
    expect(second.statusCode).toEqual(StatusCodes.Good);
    expect(JSON.parse(String(second.outputArguments?.[2]?.value))).toMatchObject({
      execution: (answer.execution as number) + 1,
    });
  }, 90_000);
});
