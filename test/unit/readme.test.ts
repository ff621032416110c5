import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { envKeys } from "../../src/config/config-loader.js";
import { REJECT_REASONS } from "../../src/mapping/counters.js";
import { POINT_STATUS } from "../../src/mapping/point-status.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");

describe("the README documents what a user configures and sees", () => {
  it("opens with the two commands for a fresh clone: start and test", () => {
    const firstBlock = readme.split("```")[1] ?? "";
    expect(firstBlock).toContain("npm ci && npm start");
    expect(firstBlock).toContain("npm ci && npm test");
  });

  it("names every configuration key", () => {
    const missing = envKeys()
      .map((k) => k.path.join("."))
      .filter((path) => !readme.includes(`\`${path}\``) && !readme.includes(`\`${path},`));
    expect(missing).toEqual([]);
  });

  it("names every status code of the status table and every reject reason", () => {
    for (const status of Object.values(POINT_STATUS)) expect(readme).toContain(`\`${status.name}\``);
    for (const reason of REJECT_REASONS) expect(readme).toContain(`\`${reason}\``);
  });
});
