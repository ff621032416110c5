import { isDeepStrictEqual } from "node:util";
import { envKeys } from "../config/config-loader.js";
import type { GatewayConfig } from "../config/config-types.js";
import type { Catalog } from "../model/catalog-types.js";
import type { CommandDef } from "../model/command-catalog-types.js";
import { type DeviceDeclaration, declaredDeviceId, deviceKeyOf } from "../model/device-identity.js";
import type { UserDef } from "../security/users.js";
import { deepFreeze } from "../shared/deep-freeze.js";
import { formatProblem, type Problem } from "../shared/errors.js";
import { configureLogging, type Logger } from "../shared/logger.js";
import type { Setup } from "./setup.js";

/**
 * The keys a running gateway takes over without a restart, and so without dropping an OPC UA
 * session. Every other key is read once, at start.
 */
export const RELOADABLE_KEYS: readonly string[] = [
  "log.level",
  "log.format",
  "log.levels",
  "mapping.staleAfter.default",
  "mapping.staleAfter.families",
  "mapping.staleAfter.points",
  "devices",
];

/** What a reload does: changed keys applied now, and those that wait for the next start. */
export interface ReloadPlan {
  applied: string[];
  /** Declared devices new in the file: created now, with all their points. */
  devicesAdded: DeviceDeclaration[];
  /** Declared devices gone from the file: their nodes stay until a restart. */
  devicesRemoved: DeviceDeclaration[];
  /** Changed keys (and files read at start) that take effect only after a restart. */
  needsRestart: string[];
}

/** The part of a running gateway a reload reads and changes (Gateway has this shape). */
export interface ReloadTarget {
  /** The running configuration, a frozen snapshot. */
  readonly config: GatewayConfig;
  readonly catalog: Catalog;
  readonly users: readonly UserDef[];
  readonly commands: readonly CommandDef[];
  readonly ingest: {
    setStaleTimes(staleAfter: GatewayConfig["mapping"]["staleAfter"]): void;
    /** Returns the devices it could not create (mapping.maxDevices reached). */
    declareDevices(devices: readonly DeviceDeclaration[]): DeviceDeclaration[];
  } | null;
  /** Takes the new running snapshot, which `config` answers from then on. */
  adopt(config: GatewayConfig): void;
}

const deviceKey = (d: DeviceDeclaration) => deviceKeyOf(declaredDeviceId(d));

function valueAt(config: GatewayConfig, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], config);
}

/**
 * Compares the running configuration with a new one key by key (the keys of the configuration
 * table: leaves, and lists and maps whole) and sorts each change into applied or needs-restart.
 */
export function planReload(running: GatewayConfig, next: GatewayConfig): ReloadPlan {
  const plan: ReloadPlan = { applied: [], devicesAdded: [], devicesRemoved: [], needsRestart: [] };
  for (const { path } of envKeys()) {
    if (isDeepStrictEqual(valueAt(running, path), valueAt(next, path))) continue;
    const key = path.join(".");
    if (!RELOADABLE_KEYS.includes(key)) plan.needsRestart.push(key);
    else if (key !== "devices") plan.applied.push(key);
  }
  const before = new Set(running.devices.map(deviceKey));
  const after = new Set(next.devices.map(deviceKey));
  plan.devicesAdded = next.devices.filter((d) => !before.has(deviceKey(d)));
  plan.devicesRemoved = running.devices.filter((d) => !after.has(deviceKey(d)));
  if (plan.devicesAdded.length > 0) plan.applied.push("devices");
  if (plan.devicesRemoved.length > 0)
    plan.needsRestart.push(`devices (${plan.devicesRemoved.map(deviceKey).join(", ")} removed)`);
  return plan;
}

/**
 * SIGHUP: applies a checked setup to a running gateway as far as it can without a restart, and
 * logs in one line what needs one. A setup with problems is refused whole, each problem logged,
 * and the running configuration stays. Returns the plan, or null when refused.
 */
export function reloadConfig(
  target: ReloadTarget,
  checked: { setup?: Setup; problems: readonly Problem[] },
  logger: Logger,
  file: string,
): ReloadPlan | null {
  const { setup } = checked;
  if (!setup) {
    logger.error("configuration reload refused: the running configuration stays", {
      config: file,
      problems: checked.problems.map(formatProblem),
    });
    return null;
  }
  const next = setup.config;
  const plan = planReload(target.config, next);
  // Files named by unchanged keys are read again by the check: a changed content waits as well.
  const files: [string, boolean][] = [
    ["catalog", isDeepStrictEqual(target.catalog.points, setup.catalog.points)],
    ["commands.file", isDeepStrictEqual(target.commands, setup.commands)],
    ["opcua.usersFile", isDeepStrictEqual(target.users, setup.users)],
  ];
  for (const [key, same] of files)
    if (!same && !plan.needsRestart.includes(key)) plan.needsRestart.push(`${key} (its content)`);

  // Each part is handed what it needs; none reads the running snapshot for it.
  if (plan.applied.some((k) => k.startsWith("log."))) configureLogging(next.log);
  if (plan.applied.some((k) => k.startsWith("mapping.staleAfter.")))
    target.ingest?.setStaleTimes(next.mapping.staleAfter);
  const notCreated = target.ingest?.declareDevices(plan.devicesAdded) ?? [];
  // A new snapshot: the reloadable keys from the file (those unchanged are equal), every other key
  // as it runs until a restart. The device list follows the file (removed devices' nodes stay
  // until a restart); a device that could not be created is left out, so that the next reload
  // tries it again.
  const running = target.config;
  target.adopt(
    deepFreeze({
      ...running,
      log: next.log,
      mapping: { ...running.mapping, staleAfter: next.mapping.staleAfter },
      devices: next.devices.filter((d) => !notCreated.includes(d)),
    }),
  );

  logger.info("configuration reloaded", {
    config: file,
    applied: plan.applied,
    devicesAdded: plan.devicesAdded.map(deviceKey),
    ...(notCreated.length > 0
      ? { devicesNotCreated: notCreated.map(deviceKey), reason: "mapping.maxDevices reached" }
      : {}),
  });
  if (plan.needsRestart.length > 0)
    logger.warn(`needs a restart: ${plan.needsRestart.join(", ")}`, { needsRestart: plan.needsRestart });
  return plan;
}
