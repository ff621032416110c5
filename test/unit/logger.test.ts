import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configureLogging, getLogger, resolveLevel, silenceLogging } from "../../src/shared/logger.js";

// The lines are what is tested: not silenced, as tests otherwise are (test/harness/file-setup.ts).
beforeEach(() => silenceLogging(false));
afterEach(() => {
  vi.restoreAllMocks();
  configureLogging({ level: "info", format: "auto" });
});

/** The JSON lines the loggers print while `run` runs. */
async function captured(run: () => void): Promise<{ component: string; level: string; message: string }[]> {
  const lines: string[] = [];
  // winston's Console transport writes to console._stdout (process.stdout, or the test runner's).
  const out = (console as unknown as { _stdout?: NodeJS.WriteStream })._stdout ?? process.stdout;
  vi.spyOn(out, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  run();
  // The transport writes once the line has flowed through winston's streams.
  await new Promise((r) => setTimeout(r, 20));
  vi.restoreAllMocks();
  return lines.map((l) => JSON.parse(l) as { component: string; level: string; message: string });
}

describe("a log level per component", () => {
  it("takes the component's own level, else its nearest configured ancestor's, else log.level", () => {
    const opts = {
      level: "warn",
      format: "json",
      levels: { gateway: "info", "gateway:opcua": "error", "gateway:opcua:methods": "debug" },
    } as const;
    expect(resolveLevel("gateway:opcua:methods", opts)).toBe("debug");
    expect(resolveLevel("gateway:opcua:alarms", opts)).toBe("error");
    expect(resolveLevel("gateway:opcua", opts)).toBe("error");
    expect(resolveLevel("gateway:mqtt", opts)).toBe("info");
    // A name is an ancestor only up to a colon: gateway:dispatcher is not below gateway:opcua.
    expect(resolveLevel("gateway:opcuaToMqtt", opts)).toBe("info");
    expect(resolveLevel("simulator", opts)).toBe("warn");
  });

  it("prints each line at its component's level", async () => {
    configureLogging({
      level: "info",
      format: "json",
      levels: { "gateway:mqtt": "debug", "gateway:opcua": "error" },
    });
    const lines = await captured(() => {
      getLogger("gateway:mqtt").debug("mqtt debug");
      getLogger("gateway:opcua:methods").warn("methods warn");
      getLogger("gateway:opcua:methods").error("methods error");
      getLogger("gateway").debug("gateway debug");
      getLogger("gateway").info("gateway info");
    });
    expect(lines.map((l) => `${l.component} ${l.level} ${l.message}`)).toEqual([
      "gateway:mqtt debug mqtt debug",
      "gateway:opcua:methods error methods error",
      "gateway info gateway info",
    ]);
  });

  it("changes loggers made before a reconfiguration (SIGHUP)", async () => {
    const mqtt = getLogger("gateway:mqtt");
    const opcua = getLogger("gateway:opcua");
    configureLogging({ level: "info", format: "json" });
    expect(mqtt.isDebugEnabled()).toBe(false);
    configureLogging({ level: "info", format: "json", levels: { "gateway:mqtt": "debug" } });
    expect(mqtt.level).toBe("debug");
    expect(mqtt.isDebugEnabled()).toBe(true);
    expect(opcua.level).toBe("info");
    expect(opcua.isDebugEnabled()).toBe(false);
    expect(getLogger("gateway:mqtt")).toBe(mqtt);
    const lines = await captured(() => {
      mqtt.debug("now shown");
      opcua.debug("still hidden");
    });
    expect(lines.map((l) => l.message)).toEqual(["now shown"]);
  });
});
