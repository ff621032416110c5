import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { planReload, type ReloadTarget, reloadConfig } from "../../src/app/reload.js";
import { checkSetup } from "../../src/app/setup.js";
import { buildConfig } from "../../src/config/config-loader.js";
import type { GatewayConfig } from "../../src/config/config-types.js";
import { configureLogging, getLogger, type Logger } from "../../src/shared/logger.js";
import { DEFAULT_COMMANDS_FILE } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";

const dir = mkdtempSync(join(tmpdir(), "smartgear-reload-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => configureLogging({ level: "info", format: "auto" }));

function configOf(yaml: string): GatewayConfig {
  const { config, problems } = buildConfig(parseYamlText(yaml, join(dir, "gateway.yaml")), {});
  expect(problems).toEqual([]);
  return config!;
}

/** A checked setup from YAML, as SIGHUP reads it from the file. */
function setupOf(yaml: string) {
  const file = join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return { file, checked: checkSetup(file, {}) };
}

/** A logger that records its lines. */
function recordingLogger() {
  const lines: { level: string; message: string; meta: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, meta: Record<string, unknown> = {}) =>
      lines.push({ level, message, meta });
  return { lines, logger: { info: at("info"), warn: at("warn"), error: at("error") } as unknown as Logger };
}

/** A running gateway as far as a reload sees it, with the calls it receives. */
function targetOf(yaml: string) {
  const { checked } = setupOf(yaml);
  const setup = checked.setup!;
  const calls = { staleTimes: [] as unknown[], declared: [] as unknown[] };
  let running = setup.config;
  const target: ReloadTarget = {
    get config() {
      return running;
    },
    adopt: (config) => {
      running = config;
    },
    catalog: setup.catalog,
    users: setup.users,
    commands: setup.commands,
    ingest: {
      setStaleTimes: (s) => calls.staleTimes.push(s),
      declareDevices: (d) => {
        calls.declared.push(...d);
        return [];
      },
    },
  };
  return { target, calls };
}

const F1 = "{ type: 3WA, name: F1, source: ETU }";
const F2 = "{ type: 3WA, name: F2, source: ETU }";

describe("planning a reload: which changed keys apply now and which need a restart", () => {
  it("finds nothing to do when nothing changed", () => {
    const yaml = `opcua: { port: 4841 }\ndevices: [${F1}]\n`;
    expect(planReload(configOf(yaml), configOf(yaml))).toEqual({
      applied: [],
      devicesAdded: [],
      devicesRemoved: [],
      needsRestart: [],
    });
  });

  it("applies log levels, per-component levels, the log format and stale times", () => {
    const plan = planReload(
      configOf(""),
      configOf(
        'log: { level: debug, format: json, levels: { "gateway:mqtt": warn } }\n' +
          'mapping: { staleAfter: { default: 30, families: { "48": 600 }, points: { "11/5": 10 } } }\n',
      ),
    );
    expect(plan.applied).toEqual([
      "log.level",
      "log.format",
      "log.levels",
      "mapping.staleAfter.default",
      "mapping.staleAfter.families",
      "mapping.staleAfter.points",
    ]);
    expect(plan.needsRestart).toEqual([]);
  });

  it("lists every other changed key, by its path, as needing a restart", () => {
    const plan = planReload(
      configOf("log: { level: info }\n"),
      configOf(
        "log: { level: debug }\nopcua: { port: 4841, limits: { maxSessions: 5 } }\n" +
          "mqtt: { url: mqtt://broker:1883, subscriptions: [{ topic: '11/#' }] }\nhttp: { port: 9200 }\n",
      ),
    );
    expect(plan.applied).toEqual(["log.level"]);
    expect(plan.needsRestart).toEqual([
      "http.port",
      "mqtt.url",
      "mqtt.subscriptions",
      "opcua.port",
      "opcua.limits.maxSessions",
    ]);
  });

  it("adds new declared devices and keeps removed ones until a restart", () => {
    const plan = planReload(configOf(`devices: [${F1}]\n`), configOf(`devices: [${F2}]\n`));
    expect(plan.devicesAdded).toEqual([{ type: "3WA", name: "F2", source: "ETU" }]);
    expect(plan.devicesRemoved).toEqual([{ type: "3WA", name: "F1", source: "ETU" }]);
    expect(plan.applied).toEqual(["devices"]);
    expect(plan.needsRestart).toEqual(["devices (3WA/F1/ETU removed)"]);
  });

  it("takes devices in another order as no change", () => {
    const plan = planReload(configOf(`devices: [${F1}, ${F2}]\n`), configOf(`devices: [${F2}, ${F1}]\n`));
    expect(plan).toMatchObject({ applied: [], needsRestart: [], devicesAdded: [], devicesRemoved: [] });
  });
});

describe("applying a reload to a running gateway", () => {
  it("applies levels, stale times and new devices, and logs what needs a restart in one line", () => {
    const { target, calls } = targetOf(`devices: [${F1}]\n`);
    const running = target.config;
    const { lines, logger } = recordingLogger();
    const { file, checked } = setupOf(
      'log: { level: warn, levels: { "gateway:mqtt": debug } }\nmapping: { staleAfter: { default: 5 } }\n' +
        `opcua: { port: 4999 }\nmqtt: { url: "mqtt://broker:1883" }\ndevices: [${F1}, ${F2}]\n`,
    );
    const plan = reloadConfig(target, checked, logger, file);

    expect(plan?.applied).toEqual(["log.level", "log.levels", "mapping.staleAfter.default", "devices"]);
    // A new snapshot replaces the running one, which stays as it was: a part that held it saw no change.
    expect(target.config).not.toBe(running);
    expect(running.log.level).toBe("info");
    expect(running.mapping.staleAfter.default).toBe(0);
    expect(target.config.log.level).toBe("warn");
    expect(target.config.mapping.staleAfter.default).toBe(5);
    expect(target.config.devices).toEqual([
      { type: "3WA", name: "F1", source: "ETU" },
      { type: "3WA", name: "F2", source: "ETU" },
    ]);
    // Keys that wait for a restart keep their running values.
    expect(target.config.opcua.port).toBe(4840);
    expect(target.config.mqtt.url).toBe("");
    expect(Object.isFrozen(target.config.mapping)).toBe(true);
    expect(calls.staleTimes).toEqual([{ default: 5, families: {}, points: {} }]);
    expect(calls.declared).toEqual([{ type: "3WA", name: "F2", source: "ETU" }]);
    expect(getLogger("gateway:mqtt:client").level).toBe("debug");
    expect(getLogger("gateway:opcua").level).toBe("warn");
    const restart = lines.filter((l) => l.message.startsWith("needs a restart"));
    expect(restart.map((l) => [l.level, l.message])).toEqual([
      ["warn", "needs a restart: mqtt.url, opcua.port"],
    ]);
  });

  it("refuses an invalid file whole, logs each problem, and keeps the running configuration", () => {
    const { target, calls } = targetOf("log: { level: info }\n");
    const { lines, logger } = recordingLogger();
    const { file, checked } = setupOf(
      "log: { level: loud }\nmapping: { staleAfter: { default: 5 } }\nopcua: { prot: 1 }\n",
    );
    expect(reloadConfig(target, checked, logger, file)).toBeNull();
    expect(target.config.log.level).toBe("info");
    expect(target.config.mapping.staleAfter.default).toBe(0);
    expect(calls.staleTimes).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe("error");
    expect(lines[0]?.message).toBe("configuration reload refused: the running configuration stays");
    expect(lines[0]?.meta.problems).toEqual([
      `${file}:1: log.level: must be equal to one of the allowed values: error, warn, info, debug`,
      `${file}:3: opcua: unknown key 'prot' (did you mean 'port'?)`,
    ]);
  });

  it("says a file read at start whose content changed needs a restart", () => {
    const commands = join(dir, "commands.yaml");
    const shipped = readFileSync(DEFAULT_COMMANDS_FILE, "utf8");
    writeFileSync(commands, shipped);
    const { target } = targetOf(`commands: { file: ${JSON.stringify(commands)} }\n`);
    writeFileSync(commands, shipped.replace("timeoutMs: 5000", "timeoutMs: 7000"));
    const { lines, logger } = recordingLogger();
    const { file, checked } = setupOf(`commands: { file: ${JSON.stringify(commands)} }\n`);
    expect(checked.problems).toEqual([]);
    expect(reloadConfig(target, checked, logger, file)?.needsRestart).toEqual([
      "commands.file (its content)",
    ]);
    expect(lines.at(-1)?.message).toBe("needs a restart: commands.file (its content)");
  });
});
