import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { loadSetup } from "../../src/app/setup.js";
import { defaultClientId } from "../../src/config/client-id.js";
import { buildConfig } from "../../src/config/config-loader.js";
import { DEFAULT_CONFIG_FILE } from "../../src/shared/paths.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";

const configOf = (yaml: string) => {
  const { config, problems } = buildConfig(parseYamlText(yaml, "test.yaml"), {});
  if (!config) throw new Error(JSON.stringify(problems));
  return config;
};

describe("the gateway's default MQTT client id (issue 15)", () => {
  it("carries the host name, so that it is not the same documented id on every machine", () => {
    expect(defaultClientId("edge-07")).toBe("smartgear-gateway-edge-07");
    expect(configOf("").mqtt.clientId).toBe(defaultClientId(hostname()));
    expect(configOf("").mqtt.clientId).not.toBe("smartgear-gateway");
    // The shipped configuration leaves it to the default too.
    expect(loadSetup(DEFAULT_CONFIG_FILE, {}).config.mqtt.clientId).toBe(defaultClientId(hostname()));
  });

  it("keeps only what brokers, topic levels and file names accept, and stays short", () => {
    expect(defaultClientId("Hall1.Plant.Example.COM")).toBe("smartgear-gateway-hall1-plant-example-com");
    expect(defaultClientId("a b/c+#ü")).toBe("smartgear-gateway-a-b-c");
    expect(defaultClientId("...")).toBe("smartgear-gateway");
    const long = defaultClientId("x".repeat(200));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toMatch(/^smartgear-gateway-x+$/);
  });

  it("is overridden by mqtt.clientId", () => {
    expect(configOf("mqtt: { clientId: line-3-gw }\n").mqtt.clientId).toBe("line-3-gw");
  });
});
