import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import winston from "winston";
import { EventHub } from "../../src/app/events.js";
import type { DeviceState } from "../../src/bridge/point-mirror.js";

/** A hub whose logger writes JSON lines into `logs`. */
function hubWithLog() {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const logger = winston.createLogger({
    level: "debug",
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { hub: new EventHub(logger), logs };
}

const device = { key: "3WA/Feeder 01/ETU" } as DeviceState;

describe("the event hub of discovery and lifecycle events", () => {
  it("calls every listener of an event, in the order they were added, and no other event's", () => {
    const { hub } = hubWithLog();
    const heard: string[] = [];
    hub.on("deviceAdded", "first", (d) => heard.push(`first ${d.key}`));
    hub.on("brokerLost", "other", () => heard.push("other"));
    hub.on("deviceAdded", "second", (d) => heard.push(`second ${d.key}`));
    hub.emit("deviceAdded", device);
    expect(heard).toEqual(["first 3WA/Feeder 01/ETU", "second 3WA/Feeder 01/ETU"]);
  });

  it("catches a listener's error: the listeners after it still run, and it is counted and logged with its context", async () => {
    const { hub, logs } = hubWithLog();
    const heard: string[] = [];
    hub.on("deviceReported", "device health", () => {
      throw new Error("no Online variable");
    });
    hub.on("deviceReported", "diagnostics", (r) => heard.push(`${r.device.key} ${r.online}`));
    expect(() => hub.emit("deviceReported", { device, online: false, at: 0 })).not.toThrow();
    expect(heard).toEqual(["3WA/Feeder 01/ETU false"]);
    expect(hub.listenerErrors).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(logs).toEqual([
      expect.objectContaining({
        level: "warn",
        message: "event listener failed",
        event: "deviceReported",
        listener: "device health",
        error: "no Online variable",
        device: "3WA/Feeder 01/ETU",
        online: false,
      }),
    ]);
  });

  it("keeps the log of a listener failing on every event to a few lines, and counts every failure", async () => {
    const { hub, logs } = hubWithLog();
    hub.on("brokerLost", "flaky", () => {
      throw new Error("always");
    });
    for (let i = 0; i < 100; i++) hub.emit("brokerLost", { reason: `cut ${i}` });
    expect(hub.listenerErrors).toBe(100);
    await new Promise((r) => setImmediate(r));
    expect(logs.length).toBeLessThanOrEqual(5);
    expect(logs[0]).toMatchObject({ event: "brokerLost", listener: "flaky", reason: "cut 0" });
  });
});
