import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkSetup } from "../../src/app/setup.js";
import { loadBrokerTls, loadClientSecurity } from "../../src/mqtt/tls-options.js";
import { ProblemsError } from "../../src/shared/errors.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

const EXAMPLES = join(PROJECT_ROOT, "config", "examples");
const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith(".yaml"));

/** The keys whose files start-up would fail to read (none when the files exist). */
function unreadableKeys(load: () => unknown): string[] {
  try {
    load();
    return [];
  } catch (err) {
    if (!(err instanceof ProblemsError)) throw err;
    return err.problems.map((p) => p.message.split(":")[0] ?? "");
  }
}

describe("the shipped example configurations", () => {
  it("are there: the vendor's broker and the secured embedded broker", () => {
    expect(examples).toEqual(expect.arrayContaining(["vendor-broker.yaml", "embedded-broker-secured.yaml"]));
  });

  it.each(examples)("%s validates against the schema and the catalog", (name) => {
    expect(checkSetup(join(EXAMPLES, name), {}).problems).toEqual([]);
  });

  // Validation checks keys only; secret files are read when the gateway starts. Where the example's
  // /run/secrets files are absent (here), start-up would name each one: nothing is read earlier.
  it.skipIf(existsSync("/run/secrets"))("name their secret files, which only start-up reads", () => {
    const vendor = checkSetup(join(EXAMPLES, "vendor-broker.yaml"), {}).setup!.config;
    expect(vendor.mqtt.url).toBe("mqtts://mqtt.smartgear.siemens.com:8883");
    expect(vendor.mqtt.tls.minVersion).toBe("TLSv1.3");
    expect(unreadableKeys(() => loadClientSecurity(vendor.mqtt))).toEqual([
      "mqtt.passwordFile",
      "mqtt.tls.keyPassphraseFile",
      "mqtt.tls.caFile",
      "mqtt.tls.certFile",
      "mqtt.tls.keyFile",
    ]);
    const embedded = checkSetup(join(EXAMPLES, "embedded-broker-secured.yaml"), {}).setup!.config;
    expect(unreadableKeys(() => loadBrokerTls(embedded.broker))).toEqual([
      "broker.tls.certFile",
      "broker.tls.keyFile",
      "broker.tls.caFile",
    ]);
  });
});
