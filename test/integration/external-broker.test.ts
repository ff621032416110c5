import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import { publish, startAedes, startMosquitto, type TestBroker } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf, type TestClient, waitStatus } from "../harness/opcua-client.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

const T5 = "11/5/3WA/Feeder 01/ETU";
const T6 = "11/6/3WA/Feeder 01/ETU";

describe("the gateway as a client of an external broker", () => {
  const { track } = useCleanups();
  const gatewayOn = (broker: TestBroker, extra = "") =>
    startGateway(
      `mqtt:\n  url: ${broker.url}\n  clientId: gw-${Math.random().toString(36).slice(2)}\n  reconnectPeriod: 200\n  reconnectPeriodMax: 400\n${extra}`,
    );
  const statusOf = async (client: TestClient, topic: string) => (await client.read(nodeOf(topic))).statusCode;

  it("falls back to MQTT 3.1.1 when the broker refuses MQTT 5 (aedes)", async () => {
    const broker = track(await startAedes());
    const gw = track(await gatewayOn(broker));
    const client = track(await connectClient(gw.endpointUrl));
    await waitFor(
      "connected",
      async () => (await client.read("ns=2;s=Gateway/BrokerConnected")).value.value === true,
    );
    expect((await client.read("ns=2;s=Gateway/BrokerProtocol")).value.value).toBe("3.1.1");
    await publish(broker.url, [{ topic: T5, payload: "230" }]);
    await waitStatus(client, T5, StatusCodes.Good);
  });

  it(
    "speaks MQTT 5 to mosquitto and keeps its session through a restart (session expiry set)",
    needs("mosquitto"),
    async () => {
      const broker = track(await startMosquitto());
      const yaml = `mqtt:\n  url: ${broker.url}\n  clientId: gw-v5-${process.pid}\n  reconnectPeriod: 200\n`;
      const first = await startGateway(yaml);
      const client1 = await connectClient(first.endpointUrl);
      await waitFor(
        "connected",
        async () => (await client1.read("ns=2;s=Gateway/BrokerConnected")).value.value === true,
      );
      expect((await client1.read("ns=2;s=Gateway/BrokerProtocol")).value.value).toBe("5");
      await client1.stop();
      await first.stop();
      // Under MQTT 5 the session outlives the connection only with a session expiry interval.
      await publish(broker.url, [{ topic: T5, payload: '{"value": 231}', qos: 1 }]);
      const second = track(await startGateway(yaml));
      const client = track(await connectClient(second.endpointUrl));
      await waitStatus(client, T5, StatusCodes.Good);
      expect((await client.read(nodeOf(T5))).value.value).toBe(231);
    },
  );

  it("marks every point Uncertain or BadNoCommunication when the broker goes away, Good again after", async () => {
    const broker = track(await startAedes());
    const gw = track(await gatewayOn(broker, "devices:\n  - { type: 3WA, name: Feeder 01, source: ETU }\n"));
    const client = track(await connectClient(gw.endpointUrl));
    await waitFor("connected", () => gw.gateway.ingest!.isConnected);
    await publish(broker.url, [{ topic: T5, payload: "230.5" }]);
    await waitStatus(client, T5, StatusCodes.Good);

    await broker.pause();
    await waitStatus(client, T5, StatusCodes.UncertainNoCommunicationLastUsableValue);
    expect((await client.read(nodeOf(T5))).value.value).toBe(230.5);
    expect(await statusOf(client, T6)).toEqual(StatusCodes.BadNoCommunication);
    expect((await client.read("ns=2;s=Gateway/BrokerConnected")).value.value).toBe(false);

    await broker.resume();
    await waitFor("reconnected", () => gw.gateway.ingest!.isConnected, 15_000);
    await publish(broker.url, [{ topic: T5, payload: "231.5" }]);
    await waitStatus(client, T5, StatusCodes.Good);
    expect((await client.read(nodeOf(T5))).value.value).toBe(231.5);
    // No fresh value for 11/6 yet: it must not pretend to be good.
    expect(await statusOf(client, T6)).toEqual(StatusCodes.BadNoCommunication);
  });

  it("shows retained messages at connect with the payload's timestamp", async () => {
    const broker = track(await startAedes());
    await publish(broker.url, [
      {
        topic: "48/1/50/Group 01/PM",
        payload: '{"value": true, "ts": "2026-01-02T03:04:05Z"}',
        retain: true,
      },
    ]);
    const gw = track(await gatewayOn(broker));
    const client = track(await connectClient(gw.endpointUrl));
    const dv = await waitFor("retained alarm", async () => {
      const v = await client.read(nodeOf("48/1/50/Group 01/PM"));
      return v.statusCode.equals(StatusCodes.Good) ? v : null;
    });
    expect(dv.value.value).toBe(true);
    expect(dv.sourceTimestamp!.toISOString()).toBe("2026-01-02T03:04:05.000Z");
  });

  it("keeps its session: QoS 1 messages published while it was down arrive after restart, same NodeIds", async () => {
    const broker = track(await startAedes());
    const clientId = `gw-persist-${process.pid}`;
    const yaml = `mqtt:\n  url: ${broker.url}\n  clientId: ${clientId}\n  reconnectPeriod: 200\n`;
    const first = await startGateway(yaml);
    await waitFor("connected", () => first.gateway.ingest!.isConnected);
    await first.stop();
    await publish(broker.url, [{ topic: T5, payload: "228.8", qos: 1 }]);
    const second = track(await startGateway(yaml));
    const client = track(await connectClient(second.endpointUrl));
    await waitStatus(client, T5, StatusCodes.Good);
    expect((await client.read(nodeOf(T5))).value.value).toBe(228.8);
  });

  it("turns a point UncertainLastUsableValue when it goes quiet past its stale time", async () => {
    const gw = track(await startGateway('mapping:\n  staleAfter:\n    points: { "11/5": 0.3 }\n'));
    const client = track(await connectClient(gw.endpointUrl));
    await publish(gw.brokerUrl, [
      { topic: T5, payload: "230" },
      { topic: T6, payload: "231" },
    ]);
    await waitStatus(client, T5, StatusCodes.Good);
    await waitStatus(client, T5, StatusCodes.UncertainLastUsableValue);
    expect((await client.read(nodeOf(T5))).value.value).toBe(230);
    // 11/6 has no stale time: it stays good.
    expect(await statusOf(client, T6)).toEqual(StatusCodes.Good);
    await publish(gw.brokerUrl, [{ topic: T5, payload: "230.1" }]);
    await waitStatus(client, T5, StatusCodes.Good);
  });

  it("exposes unknown ids as raw text in an Unmapped folder when configured, up to its bound", async () => {
    const gw = track(await startGateway("mapping:\n  unmapped: { expose: true, max: 2 }\n"));
    const client = track(await connectClient(gw.endpointUrl));
    await publish(gw.brokerUrl, [
      { topic: "11/15/3WA/Feeder 01/ETU", payload: '{"x": 1}' },
      { topic: "21/24/3WA/Feeder 01/ETU", payload: "42" },
      { topic: "21/25/3WA/Feeder 01/ETU", payload: "43" },
    ]);
    const dv = await waitFor("unmapped 11/15", async () => {
      const v = await client.read(nodeOf("11/15/3WA/Feeder 01/ETU"));
      return v.statusCode.equals(StatusCodes.Good) ? v : null;
    });
    expect(dv.value.value).toBe('{"x": 1}');
    expect((await client.browseNames("ns=2;s=Devices/3WA/Feeder 01/ETU/Unmapped")).sort()).toEqual([
      "Id11_15",
      "Id21_24",
    ]);
    await waitFor("limit counted", () => gw.gateway.counters.rejectedBy.get("unmappedLimit") === 1);
    expect((await client.read(nodeOf("21/25/3WA/Feeder 01/ETU"))).statusCode).toEqual(
      StatusCodes.BadNodeIdUnknown,
    );
  });
});
