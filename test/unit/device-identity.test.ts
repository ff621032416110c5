import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { deviceOfReplyTopic, deviceReplyTopic } from "../../src/mapping/command-encoding.js";
import { StatusTopics } from "../../src/mapping/device-status-topic.js";
import { parseTopic } from "../../src/mapping/topic.js";
import { declaredDeviceId, deviceKeyOf } from "../../src/model/device-identity.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** A template literal that joins type, name and source with slashes: a device key built by hand. */
const HAND_BUILT_KEY =
  /\$\{[^}]*\b(?:deviceType|type)\}\/\$\{[^}]*\b(?:deviceName|name)\}\/\$\{[^}]*\b(?:deviceSource|source)\}/;

describe("device identity", () => {
  it("names a device by one key whether it comes from a data, status or reply topic or the configuration", () => {
    const key = "3WA/Feeder 01/ETU";
    const fromTopic = parseTopic(`11/5/${key}`)!;
    const fromStatus = new StatusTopics("status/{deviceType}/{deviceName}/{deviceSource}").match(
      `status/${key}`,
    )!;
    const fromReply = deviceOfReplyTopic("reply/gw", `reply/gw/${key}`)!;
    const declared = declaredDeviceId({ type: "3WA", name: "Feeder 01", source: "ETU" });
    for (const id of [fromTopic, fromStatus, fromReply, declared]) expect(deviceKeyOf(id)).toBe(key);
    expect(fromTopic.deviceKey).toBe(key);
    expect(declared).toEqual(fromStatus);
    expect(deviceReplyTopic("reply/gw", declared)).toBe(`reply/gw/${key}`);
  });

  it("builds the key only in deviceKeyOf: no file under src/ joins type, name and source by hand", () => {
    const own = join(PROJECT_ROOT, "src/model/device-identity.ts");
    const found = filesUnder(join(PROJECT_ROOT, "src"))
      .filter((f) => f !== own)
      .flatMap((f) =>
        readFileSync(f, "utf8")
          .split("\n")
          .flatMap((line, i) => (HAND_BUILT_KEY.test(line) ? [`${relative(PROJECT_ROOT, f)}:${i + 1}`] : [])),
      );
    expect(found).toEqual([]);
    // The pattern does see a key built by hand, in either spelling of its parts.
    const joined = (...parts: string[]) => `\`${parts.map((p) => `\${${p}}`).join("/")}\``;
    expect(HAND_BUILT_KEY.test(joined("d.type", "d.name", "d.source"))).toBe(true);
    expect(HAND_BUILT_KEY.test(joined("id.deviceType", "id.deviceName", "id.deviceSource"))).toBe(true);
    expect(HAND_BUILT_KEY.test(joined("id.deviceType", "id.deviceName"))).toBe(false);
  });
});
