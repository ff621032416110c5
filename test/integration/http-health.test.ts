import net from "node:net";
import { describe, expect, it } from "vitest";
import { publish, startAedes } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { get, sample } from "../harness/http.js";
import { connectClient } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const DEVICE = "3WA/Feeder 01/ETU";

describe("health and metrics over HTTP", () => {
  const { track, defer } = useCleanups();

  it("answers /healthz, and /readyz once the embedded broker and OPC UA listen", async () => {
    const gw = track(await startGateway());
    expect(gw.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await get(`${gw.httpUrl}/healthz`)).toEqual({
      status: 200,
      type: "application/json",
      text: '{"status":"ok"}\n',
    });
    const ready = await get(`${gw.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    // ServiceLevel degraded (README, Redundancy): no point has a value yet; 2 + ⌊55 / 6⌋.
    expect(JSON.parse(ready.text)).toEqual({ status: "ready", broker: true, opcua: true, serviceLevel: 11 });
    expect((await get(`${gw.httpUrl}/nowhere`)).status).toBe(404);
    expect((await get(`${gw.httpUrl}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("counts messages by family and outcome, devices, points and sessions on /metrics", async () => {
    const gw = track(await startGateway());
    const client = track(await connectClient(gw.endpointUrl));
    await publish(gw.brokerUrl, [
      { topic: `11/5/${DEVICE}`, payload: "230.1" },
      { topic: `11/6/${DEVICE}`, payload: '{"value": 231.2}' },
      { topic: `11/5/${DEVICE}`, payload: "not a number" },
    ]);
    await waitFor(
      "3 messages",
      async () => (await sample(gw.httpUrl, "smartgear_messages_received_total")) === 3,
    );
    const metrics = await get(`${gw.httpUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(metrics.text.split("\n")).toEqual(
      expect.arrayContaining([
        "smartgear_messages_received_total 3",
        "smartgear_messages_decoded_total 2",
        'smartgear_messages_rejected_total{reason="typeMismatch"} 1',
        'smartgear_messages_total{family="11",outcome="decoded"} 2',
        'smartgear_messages_total{family="11",outcome="rejected"} 1',
        "smartgear_decode_errors_total 1",
        "smartgear_devices 1",
        "smartgear_points 2",
        "smartgear_opcua_sessions 1",
        "smartgear_broker_connected 1",
        "smartgear_broker_reconnects_total 0",
        'smartgear_commands_total{outcome="succeeded"} 0',
      ]),
    );
    // The Node.js process metrics are there for memory limits and event-loop lag.
    expect(metrics.text).toContain("process_resident_memory_bytes");
    expect(metrics.text).toContain("nodejs_eventloop_lag_seconds");
    await client.stop();
    expect(await sample(gw.httpUrl, "smartgear_opcua_sessions")).toBe(0);
  });

  it("turns /readyz not ready while the external broker is away, and ready when it is back", async () => {
    const broker = await startAedes();
    defer(() => broker.stop());
    const gw = track(
      await startGateway(
        `mqtt:\n  url: ${broker.url}\n  clientId: gw-${Math.random().toString(36).slice(2)}\n  reconnectPeriod: 100\n  reconnectPeriodMax: 200\n`,
      ),
    );
    const readyz = () => get(`${gw.httpUrl}/readyz`);
    await waitFor("ready", async () => (await readyz()).status === 200);

    await broker.pause();
    const notReady = await waitFor("not ready", async () => {
      const r = await readyz();
      return r.status === 503 ? r : null;
    });
    expect(JSON.parse(notReady.text)).toEqual({
      status: "not ready",
      broker: false,
      opcua: true,
      serviceLevel: 1,
      notReady: ["broker"],
    });
    expect(await sample(gw.httpUrl, "smartgear_service_level")).toBe(1);
    expect(await sample(gw.httpUrl, "smartgear_broker_connected")).toBe(0);
    // The process is up all the while: a liveness probe must not restart it for a broker outage.
    expect((await get(`${gw.httpUrl}/healthz`)).status).toBe(200);

    await broker.resume();
    await waitFor("ready again", async () => (await readyz()).status === 200);
    expect(await sample(gw.httpUrl, "smartgear_broker_reconnects_total")).toBe(1);
  });

  it("listens on nothing with http.enabled false", async () => {
    const gw = track(await startGateway("http: { enabled: false }\n"));
    expect(gw.gateway.httpPort).toBe(0);
    expect(gw.httpUrl).toBe("");
  });

  it("refuses to start when its HTTP port is taken", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    defer(() => new Promise((r) => blocker.close(() => r())));
    const { port } = blocker.address() as net.AddressInfo;
    await expect(startGateway(`http: { port: ${port} }\n`)).rejects.toThrow(
      /^http\.port: 127\.0\.0\.1 port \d+ is in use by another program/,
    );
  });
});
