import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gateway } from "../../src/app/gateway.js";
import { checkSetupSource } from "../../src/app/setup.js";
import type { GatewayConfig } from "../../src/config/config-types.js";
import { silenceLogging } from "../../src/shared/logger.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";

/** One PKI per test process: creating the server certificate once costs a second, not per test. */
export const TEST_PKI = join(tmpdir(), "smartgear-test-pki", String(process.pid));
mkdirSync(TEST_PKI, { recursive: true });

/** Gateways started by this process so far: each gets a history store of its own (testEnv). */
let gatewaysStarted = 0;

/**
 * Environment for buildConfig: mqtt.storeFolder (the gateway's subscriptions and QoS 2 state) and
 * history.folder in temporary folders rather than the working copy's data/, unless the test's YAML
 * names one. The history folder is the last started gateway's own: a gateway restores the devices
 * its store knows (README, History: continuity), and a test starts from none unless it names one.
 */
export const testEnv = (yaml: string): NodeJS.ProcessEnv => ({
  ...(/storeFolder:/.test(yaml)
    ? {}
    : { SMARTGEAR_MQTT_STORE_FOLDER: join(tmpdir(), "smartgear-test-mqtt-store", String(process.pid)) }),
  ...(/^history:/m.test(yaml)
    ? {}
    : {
        SMARTGEAR_HISTORY_FOLDER: join(
          tmpdir(),
          "smartgear-test-history",
          `${process.pid}-${gatewaysStarted}`,
        ),
      }),
});

if (!process.env.GATEWAY_TEST_LOGS) silenceLogging();

/**
 * A real gateway on free ports: the embedded broker (port 0) unless the YAML names mqtt.url,
 * and the OPC UA endpoint on port 0. `yaml` is gateway configuration, as a user writes it.
 */
export async function startGateway(yaml = ""): Promise<{
  gateway: Gateway;
  config: GatewayConfig;
  endpointUrl: string;
  brokerUrl: string;
  /** http://127.0.0.1:<port> of /healthz, /readyz and /metrics; empty with http.enabled false. */
  httpUrl: string;
  stop(): Promise<void>;
}> {
  // Mirror tests read as an anonymous Observer over None, stated explicitly; security tests replace
  // the opcua section with the secure defaults.
  const base = `broker: { port: 0 }\nhttp: { port: 0 }\nopcua: { port: 0, pkiFolder: ${JSON.stringify(TEST_PKI)}, allowAnonymous: true, securityPolicies: [None, Basic256Sha256] }\n`;
  const src = parseYamlText(merge(base, yaml), join(PROJECT_ROOT, "config", "test.yaml"));
  // Checked as `smartgear-gateway run` checks its file, catalogs and users included.
  gatewaysStarted++;
  const env = testEnv(yaml);
  const { setup, problems } = checkSetupSource(src, env);
  if (!setup) throw new Error(`test config invalid: ${JSON.stringify(problems)}`);
  const { config, catalog, users, commands } = setup;
  const gateway = new Gateway(config, catalog, users, commands);
  await gateway.start();
  return {
    gateway,
    config,
    endpointUrl: gateway.endpointUrl.replace(/\/\/[^:/]+:/, "//127.0.0.1:"),
    brokerUrl: config.mqtt.url || `mqtt://127.0.0.1:${gateway.brokerPort}`,
    httpUrl: gateway.httpPort ? `http://127.0.0.1:${gateway.httpPort}` : "",
    async stop() {
      await gateway.stop();
      const ownHistory = env.SMARTGEAR_HISTORY_FOLDER;
      if (ownHistory) rmSync(ownHistory, { recursive: true, force: true });
    },
  };
}

/** An `opcua` section for startGateway: anonymous over None on port 0, plus `extra` keys (e.g. limits). */
export const anonymousOpcua = (extra: string) =>
  `opcua: { port: 0, pkiFolder: ${JSON.stringify(TEST_PKI)}, allowAnonymous: true, securityPolicies: [None], ${extra} }\n`;

/** Top-level YAML keys of `extra` replace those of `base` (tests state whole sections). */
function merge(base: string, extra: string): string {
  const keys = new Set([...extra.matchAll(/^([A-Za-z]+):/gm)].map((m) => m[1]));
  return [...base.split("\n").filter((l) => !keys.has(l.split(":")[0] ?? "")), extra].join("\n");
}
