import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSetup, loadSetup, setupInThread } from "../../src/app/setup.js";
import { brokerSubscriptions } from "../../src/config/broker-subscriptions.js";
import { checkConfig, envKeys } from "../../src/config/config-loader.js";
import type { GatewayConfig } from "../../src/config/config-types.js";
import { ProblemsError } from "../../src/shared/errors.js";
import { DEFAULT_CATALOG_FILE, DEFAULT_CONFIG_FILE } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/config/", import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);
const NO_ENV = {};

let dir: string;
let emptyFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "smartgear-config-"));
  emptyFile = join(dir, "empty.yaml");
  writeFileSync(emptyFile, "");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The configuration of `file`, failing the test with its problems when there are any. */
function configOf(file: string, env: NodeJS.ProcessEnv = NO_ENV): GatewayConfig {
  const { config, problems } = checkConfig(file, env);
  expect(problems).toEqual([]);
  return config!;
}

/** Keys that exclude another key full.yaml sets, and the environment that sets them in its stead. */
const ALTERNATIVES: Record<string, NodeJS.ProcessEnv> = {
  "mqtt.passwordFile": {
    SMARTGEAR_MQTT_PASSWORD: "",
    SMARTGEAR_MQTT_PASSWORD_FILE: "/run/secrets/mqtt_password",
  },
  "history.postgres.passwordFile": {
    SMARTGEAR_HISTORY_POSTGRES_PASSWORD: "",
    SMARTGEAR_HISTORY_POSTGRES_PASSWORD_FILE: "/run/secrets/postgres_password",
  },
  "mqtt.tls.keyPassphrase": {
    SMARTGEAR_MQTT_TLS_KEY_PASSPHRASE_FILE: "",
    SMARTGEAR_MQTT_TLS_KEY_PASSPHRASE: "key-pass",
  },
};

function valueAt(data: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], data);
}

describe("a valid configuration", () => {
  it("accepts the shipped config/gateway.yaml with the shipped catalog", () => {
    const { setup, problems } = checkSetup(DEFAULT_CONFIG_FILE, NO_ENV);
    expect(problems).toEqual([]);
    expect(setup?.config.catalog).toBe(DEFAULT_CATALOG_FILE);
    expect(setup?.catalog.points).toHaveLength(442);
  });

  it("gives an empty file every default, the shipped catalog included", () => {
    const { setup, problems } = checkSetup(emptyFile, NO_ENV);
    expect(problems).toEqual([]);
    const config = setup!.config;
    expect(config.catalog).toBe(DEFAULT_CATALOG_FILE);
    expect(config.opcua.port).toBe(4840);
    expect(config.mqtt.keepalive).toBe(60);
    expect(config.mqtt.url).toBe("");
    expect(config.mqtt.subscriptions).toEqual([
      { topic: "11/#", qos: 1 },
      { topic: "21/#", qos: 1 },
      { topic: "48/#", qos: 1 },
    ]);
    expect(config.mapping.maxDevices).toBe(1000);
    expect(config.mapping.staleAfter).toEqual({ default: 0, families: {}, points: {} });
    expect(config.devices).toEqual([]);
  });

  it("is a frozen snapshot: changing any key of it, however deep, throws", () => {
    const config = configOf(fixture("full.yaml"), ALTERNATIVES["mqtt.passwordFile"]);
    expect(() => {
      config.log.level = "error";
    }).toThrow(TypeError);
    expect(() => {
      config.mapping.staleAfter.default = 5;
    }).toThrow(TypeError);
    expect(() => config.mqtt.subscriptions.push({ topic: "x/#", qos: 0 })).toThrow(TypeError);
    expect(() => {
      (config.devices[0] as { name: string }).name = "other";
    }).toThrow(TypeError);
    expect(config.log.level).toBe("debug");
  });

  it("subscribes at the broker to mqtt.subscriptions, and to the status topics of mapping.statusTopic", () => {
    const plain = configOf(emptyFile);
    expect(brokerSubscriptions(plain)).toEqual(plain.mqtt.subscriptions);
    const file = join(dir, "status-topic.yaml");
    writeFileSync(file, 'mapping: { statusTopic: "site/{deviceType}/{deviceName}/{deviceSource}/state" }\n');
    expect(brokerSubscriptions(configOf(file))).toEqual([
      ...plain.mqtt.subscriptions,
      { topic: "site/+/+/+/state", qos: 1 },
    ]);
  });

  it("takes the defaults for what minimal.yaml leaves out", () => {
    const minimal = configOf(fixture("minimal.yaml"));
    const defaults = configOf(emptyFile);
    expect(minimal.mqtt.url).toBe("mqtt://broker.example.com:1883");
    expect({ ...minimal, mqtt: { ...minimal.mqtt, url: "" } }).toEqual(defaults);
  });

  it("reads every key of full.yaml, each set to other than its default", () => {
    const full = configOf(fixture("full.yaml"));
    const defaults = configOf(emptyFile);
    const raw = parseYamlText(readFileSync(fixture("full.yaml"), "utf8"), "full.yaml").data;
    const keys = envKeys().map((k) => k.path);
    expect(keys.length).toBeGreaterThan(20);
    for (const path of keys) {
      // A key that excludes one full.yaml sets is set through the environment instead.
      const alternative = ALTERNATIVES[path.join(".")];
      if (!alternative) expect(valueAt(raw, path), `full.yaml lacks ${path.join(".")}`).toBeDefined();
      const config = alternative ? configOf(fixture("full.yaml"), alternative) : full;
      // The catalog it names is the shipped one, which is also the default.
      if (path[0] !== "catalog")
        expect(valueAt(config, path), `full.yaml keeps the default of ${path.join(".")}`).not.toEqual(
          valueAt(defaults, path),
        );
    }
    expect(full.catalog).toBe(DEFAULT_CATALOG_FILE);
    expect(full.mqtt.subscriptions).toEqual([
      { topic: "11/#", qos: 2 },
      { topic: "48/+/Breaker/+/+", qos: 0 },
    ]);
    expect(full.mapping.staleAfter).toEqual({
      default: 300,
      families: { "48": 3600 },
      points: { "11/500": 86400 },
    });
    expect(checkSetup(fixture("full.yaml"), NO_ENV).problems).toEqual([]);
  });
});

describe("environment overrides", () => {
  it("apply SMARTGEAR_* variables with the type of their key", () => {
    const config = configOf(fixture("full.yaml"), {
      SMARTGEAR_OPCUA_PORT: "4999",
      SMARTGEAR_MQTT_URL: "mqtt://10.0.0.5:1884",
      SMARTGEAR_MQTT_CLIENT_ID: "12345",
      SMARTGEAR_MAPPING_UNMAPPED_EXPOSE: "false",
      SMARTGEAR_MQTT_SUBSCRIPTIONS: '[{"topic":"21/#","qos":0}]',
      PATH: "/usr/bin",
    });
    expect(config.opcua.port).toBe(4999);
    expect(config.mqtt.url).toBe("mqtt://10.0.0.5:1884");
    // A client id of digits stays a string: the schema, not the look of the value, decides.
    expect(config.mqtt.clientId).toBe("12345");
    expect(config.mapping.unmapped.expose).toBe(false);
    expect(config.mqtt.subscriptions).toEqual([{ topic: "21/#", qos: 0 }]);
    // What the environment does not name keeps the file's value.
    expect(config.opcua.namespaceUri).toBe("urn:example:hall2:devices");
  });

  it("apply to an empty file, creating the sections they need", () => {
    const config = configOf(emptyFile, { SMARTGEAR_OPCUA_PORT: "4999" });
    expect(config.opcua.port).toBe(4999);
    expect(config.opcua.resourcePath).toBe("/UA/SmartGear");
  });

  it("report a value of the wrong type as an environment problem naming the variable", () => {
    expect(checkConfig(emptyFile, { SMARTGEAR_OPCUA_PORT: "abc" }).problems).toEqual([
      { file: "environment", line: 0, message: "SMARTGEAR_OPCUA_PORT: opcua.port: must be integer" },
    ]);
  });

  it("report a list or mapping that is not valid JSON as such, not as a value of the wrong type", () => {
    const { config, problems } = checkConfig(emptyFile, {
      SMARTGEAR_MQTT_SUBSCRIPTIONS: '[{"topic": "21/#"',
    });
    expect(config).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(
      /^SMARTGEAR_MQTT_SUBSCRIPTIONS: mqtt\.subscriptions: not valid JSON \(.+\)$/,
    );
  });

  it("name the variable meant by one that names no key but is a typo of one", () => {
    expect(checkConfig(emptyFile, { SMARTGEAR_OPCUA_PROT: "4840" }).problems).toEqual([
      {
        file: "environment",
        line: 0,
        message: "SMARTGEAR_OPCUA_PROT names no configuration key (did you mean 'SMARTGEAR_OPCUA_PORT'?)",
      },
    ]);
  });

  it("report a SMARTGEAR_ variable that names no key", () => {
    const { config, problems } = checkConfig(emptyFile, { SMARTGEAR_FOO: "1" });
    expect(config).toBeUndefined();
    expect(problems).toEqual([
      { file: "environment", line: 0, message: "SMARTGEAR_FOO names no configuration key" },
    ]);
  });
});

describe("an invalid configuration", () => {
  it("reports unknown keys, wrong types and bad values, each at its line", () => {
    const file = fixture("invalid-keys-and-types.yaml");
    const { config, problems } = checkConfig(file, NO_ENV);
    expect(config).toBeUndefined();
    expect(problems).toEqual([
      {
        file,
        line: 3,
        message: "log.level: must be equal to one of the allowed values: error, warn, info, debug",
      },
      { file, line: 6, message: "mqtt: unknown key 'kepalive' (did you mean 'keepalive'?)" },
      { file, line: 8, message: "opcua.port: must be integer" },
      { file, line: 10, message: "mapping.maxDevices: must be >= 1" },
      {
        file,
        line: 14,
        message: `mapping.staleAfter.points: key 'voltage' must match pattern "^[0-9]+/[0-9]+$"`,
      },
      { file, line: 16, message: "devices.0: must have required property 'source'" },
    ]);
  });

  it("reports a device declared twice at the second declaration", () => {
    const file = fixture("duplicate-device.yaml");
    expect(checkConfig(file, NO_ENV).problems).toEqual([
      { file, line: 5, message: "device Breaker/Feeder1/Trip is declared twice" },
      { file, line: 7, message: "mapping.maxDevices (2) is below the 3 declared devices" },
    ]);
  });

  it("reports a key written twice", () => {
    const file = fixture("duplicate-key.yaml");
    expect(checkConfig(file, NO_ENV).problems).toEqual([
      { file, line: 4, message: "Map keys must be unique" },
    ]);
  });

  it("reports staleAfter naming a point or family the catalog lacks, once the catalog is read", () => {
    const file = fixture("unknown-point.yaml");
    expect(checkConfig(file, NO_ENV).problems).toEqual([]);
    expect(checkSetup(file, NO_ENV).problems).toEqual([
      { file, line: 7, message: "mapping.staleAfter.families: family 99 is not in the catalog" },
      { file, line: 10, message: "mapping.staleAfter.points: point 11/9999 is not in the catalog" },
    ]);
  });

  it("reports history.record naming what the catalog lacks, or a deadband a point cannot have", () => {
    const file = join(dir, "record.yaml");
    writeFileSync(
      file,
      [
        "history:",
        "  record:",
        '    families: { "99": off }',
        "    points:",
        '      "11/9999": change',
        '      "11/37": deadband 1',
        '      "21/23": deadband 5%',
        '      "11/5": deadband 0.5%',
        "    topics:",
        '      "11/+/3WA/Feeder 01/#": all',
        '      "11/#/ETU": off',
        "",
      ].join("\n"),
    );
    expect(checkSetup(file, NO_ENV).problems).toEqual([
      { file, line: 3, message: "history.record.families: family 99 is not in the catalog" },
      { file, line: 5, message: "history.record.points: point 11/9999 is not in the catalog" },
      {
        file,
        line: 6,
        message: "history.record.points: point 11/37 is not numeric (String): a deadband needs a number",
      },
      {
        file,
        line: 7,
        message: "history.record.points: point 21/23 is not numeric (Boolean): a deadband needs a number",
      },
      {
        file,
        line: 11,
        message:
          "history.record.topics: '11/#/ETU' is not an MQTT topic filter (+ and # each a whole level, # last)",
      },
    ]);
    writeFileSync(file, "history: { record: { default: deadband -1 } }\n");
    expect(checkConfig(file, NO_ENV).problems.map((p) => p.message)).toEqual([
      'history.record.default: must match pattern "^(all|change|off|deadband (0|[1-9][0-9]*)(\\.[0-9]+)?%?)$"',
    ]);
  });

  it("reports a catalog that cannot be read", () => {
    const file = join(dir, "missing-catalog.yaml");
    writeFileSync(file, "catalog: nowhere.yaml\n");
    expect(checkSetup(file, NO_ENV).problems).toEqual([
      { file: join(dir, "nowhere.yaml"), line: 0, message: "cannot read file (ENOENT)" },
    ]);
  });

  it("makes loadSetup throw E_CONFIG listing every problem as file:line", () => {
    const file = fixture("duplicate-device.yaml");
    let error: unknown;
    try {
      loadSetup(file, NO_ENV);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ProblemsError);
    expect((error as ProblemsError).code).toBe("E_CONFIG");
    expect((error as Error).message).toContain(`${file}:5: device Breaker/Feeder1/Trip is declared twice`);
    expect((error as Error).message).toContain(`${file}:7: mapping.maxDevices (2)`);
  });
});

describe("the check on a thread of its own (`run`, while node-opcua loads)", () => {
  it("gives what loadSetup gives, the configuration frozen again; an invalid one the same E_CONFIG", async () => {
    const inThread = await setupInThread(DEFAULT_CONFIG_FILE);
    expect(inThread).toEqual(loadSetup(DEFAULT_CONFIG_FILE));
    expect(inThread.catalog.byTopicId.get("11/5")).toBe(
      inThread.catalog.points.find((p) => p.topicId === "11/5"),
    );
    expect(Object.isFrozen(inThread.config.mqtt)).toBe(true);
    const file = fixture("duplicate-device.yaml");
    const error = await setupInThread(file).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ProblemsError);
    expect((error as Error).message).toContain(`${file}:5: device Breaker/Feeder1/Trip is declared twice`);
  });
});
