import { dirname, resolve } from "node:path";
import { StatusTopics } from "../mapping/device-status-topic.js";
import { declaredDeviceId, deviceKeyOf } from "../model/device-identity.js";
import { deepFreeze } from "../shared/deep-freeze.js";
import { didYouMean } from "../shared/did-you-mean.js";
import type { Problem } from "../shared/errors.js";
import { DEFAULT_CATALOG_FILE, DEFAULT_COMMANDS_FILE } from "../shared/paths.js";
import { compileOnFirstUse } from "../shared/schema.js";
import {
  pathOf,
  readYamlFile,
  reportable,
  schemaMessage,
  schemaProblem,
  type YamlSource,
} from "../shared/yaml-source.js";
import { checkMqttSecurity } from "./check-security.js";
import { configSchema } from "./config-schema.js";
import type { GatewayConfig } from "./config-types.js";

const ENV_PREFIX = "SMARTGEAR_";
// Defaults fill every key the file leaves out.
const configValidator = compileOnFirstUse<GatewayConfig>(configSchema, { fillDefaults: true });

interface SchemaNode {
  type?: string | readonly string[];
  enum?: readonly unknown[];
  properties?: Record<string, SchemaNode>;
}

/** One configuration key that the environment may override. */
export interface EnvKey {
  env: string;
  path: string[];
  schema: SchemaNode;
}

/** `sessionExpiryInterval` ⇒ `SESSION_EXPIRY_INTERVAL`. */
const snake = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/** Every leaf key of the schema with the environment variable that overrides it. */
export function envKeys(node: SchemaNode = configSchema as SchemaNode, path: string[] = []): EnvKey[] {
  if (node.properties && path.length === 0)
    return Object.entries(node.properties).flatMap(([k, s]) => envKeys(s, [k]));
  // Objects with fixed keys recurse; maps and arrays are set whole, as JSON.
  if (node.properties && !isMapLike(node))
    return Object.entries(node.properties).flatMap(([k, s]) => envKeys(s, [...path, k]));
  return [{ env: ENV_PREFIX + path.map(snake).join("_"), path, schema: node }];
}

function isMapLike(node: SchemaNode): boolean {
  return node.properties === undefined;
}

function parseEnvValue(raw: string, schema: SchemaNode): unknown {
  const types = [schema.type ?? typeof schema.enum?.[0]].flat();
  if (types.includes("integer") || types.includes("number")) {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
  }
  if (types.includes("boolean")) return raw === "true" ? true : raw === "false" ? false : raw;
  // A list or a mapping is written as JSON; one that does not parse is reported as such by applyEnv.
  if (types.includes("array") || types.includes("object")) return JSON.parse(raw);
  return raw;
}

export interface LoadedConfig {
  config?: GatewayConfig;
  problems: Problem[];
  file: string;
  /** The line of a key path in the file, for problems found later (against the catalog). */
  lineOf: (path: readonly (string | number)[]) => number;
}

/** Reads a config file, applies environment overrides and defaults, validates; collects every problem. */
export function checkConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return buildConfig(readYamlFile(file), env);
}

export function buildConfig(src: YamlSource, env: NodeJS.ProcessEnv): LoadedConfig {
  const { file, lineOf } = src;
  if (src.problems.length > 0) return { problems: src.problems, file, lineOf };
  const data: unknown = src.data ?? {};
  if (typeof data !== "object" || Array.isArray(data))
    return {
      problems: [{ file, line: 1, message: "the configuration must be a mapping of keys" }],
      file,
      lineOf,
    };

  const problems: Problem[] = [];
  const fromEnv = applyEnv(data as Record<string, unknown>, env, problems);
  // Left out, the catalog is the one shipped with the gateway, wherever the config file lives.
  const namesCatalog = "catalog" in (data as Record<string, unknown>);
  const commandsSection = (data as Record<string, unknown>).commands;
  const namesCommands =
    typeof commandsSection === "object" && commandsSection !== null && "file" in commandsSection;
  const validateConfig = configValidator();
  if (!validateConfig(data)) {
    for (const e of reportable(validateConfig.errors)) {
      const path = pathOf(e.instancePath);
      const override = fromEnv.find((k) => k.path.every((seg, i) => path[i] === seg));
      problems.push(
        override
          ? { file: "environment", line: 0, message: `${override.env}: ${schemaMessage(e)}` }
          : schemaProblem(src, e),
      );
    }
  }
  if (problems.length > 0) return { problems, file, lineOf };
  const config = data as GatewayConfig;
  config.catalog = namesCatalog ? resolve(dirname(src.file), config.catalog) : DEFAULT_CATALOG_FILE;
  config.commands.file = namesCommands
    ? resolve(dirname(src.file), config.commands.file)
    : DEFAULT_COMMANDS_FILE;
  // Files that are part of the configuration are found beside it, wherever the gateway runs.
  if (config.opcua.usersFile) config.opcua.usersFile = resolve(dirname(src.file), config.opcua.usersFile);
  problems.push(...crossCheck(config, src), ...checkMqttSecurity(config, src));
  // The running configuration is a snapshot: no part changes what another reads; a reload builds
  // a new one (app/reload.ts).
  return problems.length > 0
    ? { problems, file, lineOf }
    : { config: deepFreeze(config), problems, file, lineOf };
}

function applyEnv(data: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: Problem[]): EnvKey[] {
  const keys = envKeys();
  const byName = new Map(keys.map((k) => [k.env, k]));
  const applied: EnvKey[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const key = byName.get(name);
    if (!key) {
      const message = `${name} names no configuration key${didYouMean(name, byName.keys())}`;
      problems.push({ file: "environment", line: 0, message });
      continue;
    }
    let value: unknown;
    try {
      value = parseEnvValue(raw, key.schema);
    } catch (err) {
      const message = `${name}: ${key.path.join(".")}: not valid JSON (${(err as Error).message})`;
      problems.push({ file: "environment", line: 0, message });
      continue;
    }
    let target = data;
    for (const seg of key.path.slice(0, -1)) {
      const next = target[seg];
      if (typeof next !== "object" || next === null || Array.isArray(next)) target[seg] = {};
      target = target[seg] as Record<string, unknown>;
    }
    target[key.path.at(-1)!] = value;
    applied.push(key);
  }
  return applied;
}

function crossCheck(config: GatewayConfig, src: YamlSource): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  config.devices.forEach((d, i) => {
    const key = deviceKeyOf(declaredDeviceId(d));
    if (seen.has(key))
      problems.push({
        file: src.file,
        line: src.lineOf(["devices", i]),
        message: `device ${key} is declared twice`,
      });
    seen.add(key);
  });
  if (config.devices.length > config.mapping.maxDevices)
    problems.push({
      file: src.file,
      line: src.lineOf(["mapping", "maxDevices"]),
      message: `mapping.maxDevices (${config.mapping.maxDevices}) is below the ${config.devices.length} declared devices`,
    });
  const missing = config.mapping.statusTopic
    ? StatusTopics.missingPlaceholders(config.mapping.statusTopic)
    : [];
  if (missing.length > 0)
    problems.push({
      file: src.file,
      line: src.lineOf(["mapping", "statusTopic"]),
      message: `mapping.statusTopic needs ${missing.map((m) => `{${m}}`).join(", ")} to name a device`,
    });
  problems.push(...redundancyProblems(config, src));
  if (config.mqtt.reconnectPeriodMax < config.mqtt.reconnectPeriod)
    problems.push({
      file: src.file,
      line: src.lineOf(["mqtt", "reconnectPeriodMax"]),
      message: "mqtt.reconnectPeriodMax must not be below mqtt.reconnectPeriod",
    });
  return problems;
}

/**
 * A redundant set shares one broker, and a client tells its members apart by ApplicationUri: it
 * finds them in ServerUriArray, which holds the local server too (Part 4 6.6.2, Part 5 6.3.9).
 */
function redundancyProblems(config: GatewayConfig, src: YamlSource): Problem[] {
  const { redundancy, opcua, mqtt } = config;
  if (!redundancy.enabled) return [];
  const at = (path: string[], message: string) => ({ file: src.file, line: src.lineOf(path), message });
  const problems: Problem[] = [];
  if (!mqtt.url)
    problems.push(
      at(
        ["redundancy", "enabled"],
        "redundancy.enabled needs mqtt.url: the members of a set share one broker",
      ),
    );
  if (!opcua.applicationUri)
    problems.push(
      at(["redundancy", "enabled"], "redundancy.enabled needs opcua.applicationUri: each member its own"),
    );
  else if (!redundancy.serverUris.includes(opcua.applicationUri))
    problems.push(
      at(
        ["redundancy", "serverUris"],
        `redundancy.serverUris must hold this member's opcua.applicationUri (${opcua.applicationUri})`,
      ),
    );
  if (redundancy.serverUris.length < 2)
    problems.push(
      at(["redundancy", "serverUris"], "redundancy.serverUris names every member of the set: two or more"),
    );
  return problems;
}
