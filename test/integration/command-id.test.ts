import mqtt from "mqtt";
import { AttributeIds, BrowseDirection, type CallMethodResult, DataType, StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { startAedes } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { commandsSetup, sendCommand, untilSimulatorAnswers } from "../harness/commands-rig.js";
import { startGateway } from "../harness/gateway.js";
import type { TestClient } from "../harness/opcua-client.js";
import { startSimulator } from "../harness/simulator.js";
import { waitFor } from "../harness/wait.js";

/** The device's answer in a call's Reply, without its correlation, which is each request's own. */
const answerOf = (r: CallMethodResult) => {
  const { correlationId: _, ...answer } = JSON.parse(String(r.outputArguments?.[2]?.value)) as Record<
    string,
    unknown
  >;
  return answer;
};

/** SendCommand with the optional trailing CommandId argument (README, Commands). */
const callWithId = (client: TestClient, command: string, commandId: string) => {
  const request = sendCommand(command);
  return client.session.call({
    ...request,
    inputArguments: [...request.inputArguments, { dataType: DataType.String, value: commandId }],
  }) as Promise<CallMethodResult>;
};

describe("a client-given CommandId: a retry through the other member is dropped by the device", () => {
  const s = commandsSetup(5000);
  const { track, defer } = useCleanups();

  /** The commandId of every command published on the broker at `url`, as a client there sees them. */
  const commandIdsOnWire = async (url: string) => {
    const wire = await mqtt.connectAsync(url, { clientId: `wire-${process.pid}` });
    defer(() => wire.endAsync(true));
    const ids: string[] = [];
    wire.on("message", (_topic, payload) => {
      ids.push(String(JSON.parse(String(payload)).commandId));
    });
    await wire.subscribeAsync("cmd/#", { qos: 2 });
    return ids;
  };

  it("the same CommandId on member A, then (A gone) on member B reaches the device twice, is carried out once, and both calls get the first answer", async () => {
    const broker = track(await startAedes());
    // A redundant pair (README, Redundancy): own ApplicationUri, certificate and MQTT client id each.
    const uris = ["a", "b"].map((m) => `urn:smartgear-test:commands-${m}`);
    const member = (name: "a" | "b") =>
      startGateway(
        s.yaml(
          `mqtt: { url: ${JSON.stringify(broker.url)}, clientId: gw-${name}-${process.pid} }\n` +
            `redundancy: { enabled: true, serverUris: ${JSON.stringify(uris)}, preference: ${name === "a" ? 55 : 0} }\n`,
          name,
        ),
      );
    const a = track(await member("a"));
    const b = track(await member("b"));
    const sim = track(startSimulator(["--url", broker.url, "--devices", "1", "--rate", "20"]));
    const commandIds = await commandIdsOnWire(broker.url);
    const onA = await s.operator(a.endpointUrl, "a");
    defer(() => onA.stop());
    const onB = await s.operator(b.endpointUrl, "b");
    defer(() => onB.stop());

    // The simulator is up once it answers a call without a CommandId, as every existing client makes
    // it (two arguments: the trailing one left out, Part 4 5.12.2.2): the gateway's UUID goes out.
    const warmUp = await untilSimulatorAnswers(onA, sim);
    expect(warmUp.outputArguments?.[0]?.value).toMatch(/^[0-9a-f-]{36}$/);

    const id = `scada-retry-${process.pid}`;
    const first = await callWithId(onA, "Open", id);
    expect(first.statusCode).toEqual(StatusCodes.Good);
    expect(first.outputArguments?.[0]?.value).toBe(id);
    const answer = answerOf(first);
    expect(answer).toMatchObject({ status: "ok", command: "Open", commandId: id });

    // Member A goes away; the client calls again through B with the same id.
    await onA.stop();
    await a.stop();
    const retry = await callWithId(onB, "Open", id);
    expect(retry.statusCode).toEqual(StatusCodes.Good);
    expect(retry.outputArguments?.[0]?.value).toBe(id);
    // The device's first answer (its execution count and time), not a second execution.
    expect(answerOf(retry)).toEqual(answer);
    await waitFor("both commands on the wire", () => commandIds.filter((c) => c === id).length === 2);

    // A new id is a new command: carried out.
    const next = await callWithId(onB, "Open", `${id}-2`);
    expect(answerOf(next)).toMatchObject({
      execution: (answer.execution as number) + 1,
    });
  }, 120_000);

  it("an empty CommandId gets the gateway's UUID; one too long or not printable is refused with BadInvalidArgument and never published", async () => {
    const gw = track(await startGateway(s.yaml()));
    const published = await commandIdsOnWire(gw.brokerUrl);
    const operator = await s.operator(gw.endpointUrl);
    defer(() => operator.stop());

    // No device answers here: a published command times out, a refused one is answered at once.
    for (const bad of ["x".repeat(65), "with space", "tab\there", "ümlaut"]) {
      const r = await callWithId(operator, "Reset", bad);
      expect(r.statusCode, bad).toEqual(StatusCodes.BadInvalidArgument);
      expect(r.inputArgumentResults?.map((c) => c.name)).toEqual(["Good", "Good", "BadInvalidArgument"]);
      expect(String(r.outputArguments?.[2]?.value)).toContain("CommandId");
    }
    const empty = await callWithId(operator, "Reset", "");
    expect(empty.statusCode).toEqual(StatusCodes.BadTimeout);
    const uuid = String(empty.outputArguments?.[0]?.value);
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor("the command on the wire", () => published.length > 0);
    expect(published).toEqual([uuid]);
    // A 64-character id is the longest taken.
    const longest = "y".repeat(64);
    const taken = await callWithId(operator, "Reset", longest);
    expect(taken.outputArguments?.[0]?.value).toBe(longest);

    // Part 3 5.7.1 / 5.7.3: the address space says which argument is optional, for clients that
    // build a call form from it: a Variable named and typed like the last input argument, whose
    // value (empty) is what leaving it out means, referenced with HasOptionalInputArgumentDescription.
    const { methodId } = sendCommand("Reset");
    const browsed = await operator.session.browse({
      nodeId: methodId,
      referenceTypeId: "i=131",
      includeSubtypes: false,
      browseDirection: BrowseDirection.Forward,
      resultMask: 0x3f,
    });
    expect(browsed.references?.map((r) => r.browseName.name)).toEqual(["CommandId"]);
    const target = browsed.references![0]!.nodeId;
    const [dataType, value] = await operator.session.read([
      { nodeId: target, attributeId: AttributeIds.DataType },
      { nodeId: target, attributeId: AttributeIds.Value },
    ]);
    expect(dataType!.value.value.toString()).toBe("ns=0;i=12");
    expect(value!.value.value).toBe("");
    const properties = await operator.session.browse({
      nodeId: methodId,
      referenceTypeId: "i=46",
      browseDirection: BrowseDirection.Forward,
      resultMask: 0x3f,
    });
    const inputArguments = properties.references?.find((r) => r.browseName.name === "InputArguments");
    const [inputs] = await operator.session.read([
      { nodeId: inputArguments!.nodeId, attributeId: AttributeIds.Value },
    ]);
    const names = (inputs!.value.value as { name: string }[]).map((a) => a.name);
    expect(names.at(-1)).toBe("CommandId");
  }, 60_000);
});
