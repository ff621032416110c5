import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkSetup } from "../../src/app/setup.js";

const dir = mkdtempSync(join(tmpdir(), "smartgear-limits-"));
const setupOf = (yaml: string) => {
  const file = join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return { file, ...checkSetup(file, {}) };
};

describe("limit alarm configuration", () => {
  it("accepts limits on analog catalog points", () => {
    const { problems } = setupOf('alarms:\n  limits:\n    - { point: "48/50", high: 90, highHigh: 110 }\n');
    expect(problems).toEqual([]);
  });

  it("names an unknown point, a non-numeric point, no limit and limits out of order, at their lines", () => {
    const { file, problems } = setupOf(
      [
        "alarms:",
        "  limits:",
        '    - { point: "11/15", high: 1 }',
        '    - { point: "21/14", high: 1 }',
        '    - { point: "48/51" }',
        '    - { point: "48/52", high: 120, highHigh: 110 }',
        "",
      ].join("\n"),
    );
    expect(problems).toEqual([
      { file, line: 3, message: "alarms.limits: point 11/15 is not in the catalog" },
      { file, line: 4, message: "alarms.limits: point 21/14 is not numeric (String)" },
      { file, line: 5, message: "alarms.limits: point 48/51: no limit given (highHigh, high, low, lowLow)" },
      {
        file,
        line: 6,
        message: "alarms.limits: point 48/52: limits must rise: lowLow < low < high < highHigh",
      },
    ]);
  });
});
