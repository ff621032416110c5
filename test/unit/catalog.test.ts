import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCatalog, loadCatalog } from "../../src/model/catalog-loader.js";
import { describePoint, type PointDef } from "../../src/model/catalog-types.js";
import { formatProblem, ProblemsError } from "../../src/shared/errors.js";
import { DEFAULT_CATALOG_FILE } from "../../src/shared/paths.js";

/** The topic ids the vendor's page claims, as inclusive ranges per family. */
const CLAIMED: Record<string, [number, number][]> = {
  "11": [
    [1, 10],
    [21, 39],
    [46, 57],
    [68, 73],
    [84, 87],
    [98, 145],
    [154, 163],
    [173, 191],
    [200, 439],
    [500, 500],
  ],
  "21": [
    [1, 23],
    [30, 47],
  ],
  "48": [
    [0, 0],
    [1, 1],
    [3, 4],
    [31, 48],
    [50, 59],
  ],
};

function claimedTopicIds(): string[] {
  const ids: string[] = [];
  for (const [family, ranges] of Object.entries(CLAIMED))
    for (const [from, to] of ranges) for (let id = from; id <= to; id++) ids.push(`${family}/${id}`);
  return ids;
}

const catalog = loadCatalog();
const point = (topicId: string): PointDef => {
  const p = catalog.byTopicId.get(topicId);
  if (!p) throw new Error(`the catalog has no point ${topicId}`);
  return p;
};

describe("the shipped catalog", () => {
  it("has exactly the 442 topic ids the vendor claims, no more, no fewer", () => {
    const expected = claimedTopicIds();
    expect(expected).toHaveLength(442);
    expect(catalog.points).toHaveLength(442);
    expect(catalog.points.map((p) => p.topicId).sort()).toEqual([...expected].sort());
  });

  it("gives every point one of its declared units, or none", () => {
    for (const p of catalog.points)
      if (p.unit !== null) expect(catalog.units.get(p.unit.key), p.topicId).toBe(p.unit);
    // Both cases occur, so neither branch is vacuous.
    expect(catalog.points.some((p) => p.unit === null)).toBe(true);
    expect(catalog.points.some((p) => p.unit !== null)).toBe(true);
  });

  it("gives every point a browse path no other point has", () => {
    const paths = catalog.points.map((p) => p.browsePath);
    const repeated = paths.filter((path, i) => paths.indexOf(path) !== i);
    expect(repeated).toEqual([]);
  });

  it.each([
    ["11/200", "PowerQuality/Harmonics/VoltageL1/H01Magnitude", "%"],
    ["11/201", "PowerQuality/Harmonics/VoltageL1/H01Angle", "°"],
    ["11/239", "PowerQuality/Harmonics/VoltageL1/H20Angle", "°"],
    ["11/240", "PowerQuality/Harmonics/VoltageL2/H01Magnitude", "%"],
    ["11/320", "PowerQuality/Harmonics/CurrentL1/H01Magnitude", "%"],
    ["11/439", "PowerQuality/Harmonics/CurrentL3/H20Angle", "°"],
  ])("generates harmonic %s as %s in %s", (topicId, browsePath, unit) => {
    const p = point(topicId);
    expect(p.browsePath).toBe(browsePath);
    expect(p.unit?.displayName).toBe(unit);
    expect(p.dataType).toBe("Double");
    expect(p.generatedBy).toBe("harmonics");
  });

  it("labels the last harmonic as current L3, order 20, angle", () => {
    expect(point("11/439").label).toBe("Current Harmonic L3 Order 20 Angle");
    expect(point("11/439").range).toEqual({ low: -180, high: 180 });
    expect(point("11/200").range).toEqual({ low: 0, high: 100 });
  });

  it("names long-term flicker L1 (11/189) Plt, not the vendor's Pst (errata 2)", () => {
    const p = point("11/189");
    expect(p.browseName).toBe("FlickerPltL1");
    expect(p.label).toBe("Long-Term Flicker Pst L1");
    expect(describePoint(p)).toContain("Errata 2");
  });

  it("keeps 11/30 and 11/33 apart, each described by its own label and topic id", () => {
    const a = point("11/30");
    const b = point("11/33");
    expect(a.browseName).not.toBe(b.browseName);
    expect(describePoint(a)).toContain(`${a.label} (Sm@rtGear topic id 11/30)`);
    expect(describePoint(b)).toContain(`${b.label} (Sm@rtGear topic id 11/33)`);
    expect(a.label).toBe("Max Current Average");
    expect(b.label).toBe("Max Average Current");
  });

  it("puts the two condition-monitoring sets 21/33 and 21/40 in Set1 and Set2", () => {
    expect(point("21/33").folder).toEqual(["Compliance", "ConditionMonitoring", "Set1"]);
    expect(point("21/40").folder).toEqual(["Compliance", "ConditionMonitoring", "Set2"]);
    expect(point("21/33").browseName).toBe(point("21/40").browseName);
  });
});

describe("an invalid catalog", () => {
  const shipped = readFileSync(DEFAULT_CATALOG_FILE, "utf8");
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "smartgear-catalog-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The shipped catalog with `text` as the last explicit point; the file and that line's number. */
  function withExtraLine(name: string, text: string): { file: string; line: number; lines: string[] } {
    const lines = shipped.split("\n");
    let at = lines.findIndex((l) => l.startsWith("rules:"));
    expect(at).toBeGreaterThan(0);
    while (lines[at - 1]!.trim() === "" || lines[at - 1]!.startsWith("#")) at--;
    lines.splice(at, 0, text);
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, lines.join("\n"));
    return { file, line: at + 1, lines };
  }

  const pointLine = (fields: string) =>
    `  - { ${fields}, label: "Test", folder: PowerQuality/Voltage, dataType: Double, unit: V }`;

  it("accepts a well-formed extra point where the tests below put bad ones", () => {
    const { file, line } = withExtraLine("valid", pointLine("id: 11/9999, browseName: TestPoint"));
    const { catalog: extended, problems } = checkCatalog(file);
    expect(problems).toEqual([]);
    expect(extended?.points).toHaveLength(443);
    expect(extended?.byTopicId.get("11/9999")?.source).toEqual({ file, line });
  });

  it("rejects an id listed twice, at the second listing, naming the first", () => {
    const { file, line } = withExtraLine("duplicate", pointLine("id: 11/5, browseName: TestPoint"));
    const { catalog: none, problems } = checkCatalog(file);
    expect(none).toBeUndefined();
    expect(problems).toEqual([
      { file, line, message: expect.stringMatching(/^duplicate id 11\/5 \(first defined at .+:\d+\)$/) },
    ]);
    const first = problems[0]!.message.match(/at (.+):(\d+)\)$/)!;
    expect(first[1]).toBe(file);
    expect(readFileSync(file, "utf8").split("\n")[Number(first[2]) - 1]).toContain("id: 11/5,");
  });

  it("rejects an explicit point whose id the harmonics rule also generates", () => {
    const { file, line, lines } = withExtraLine(
      "rule-collision",
      pointLine("id: 11/250, browseName: TestPoint"),
    );
    const ruleLine = lines.findIndex((l) => l.includes("- name: harmonics")) + 1;
    expect(checkCatalog(file).problems).toEqual([
      { file, line: ruleLine, message: `duplicate id 11/250 (first defined at ${file}:${line})` },
    ]);
  });

  it("rejects an unknown dataType", () => {
    const { file, line } = withExtraLine(
      "data-type",
      `  - { id: 11/9999, label: "Test", browseName: TestPoint, folder: PowerQuality/Voltage, dataType: Float64, unit: V }`,
    );
    expect(checkCatalog(file).problems).toEqual([
      {
        file,
        line,
        message: expect.stringMatching(
          /^point 11\/9999: points\.\d+\.dataType: must be equal to one of .*Double/,
        ),
      },
    ]);
  });

  it("rejects an unknown unit, listing the known ones", () => {
    const { file, line } = withExtraLine(
      "unit",
      `  - { id: 11/9999, label: "Test", browseName: TestPoint, folder: PowerQuality/Voltage, dataType: Double, unit: furlong }`,
    );
    expect(checkCatalog(file).problems).toEqual([
      {
        file,
        line,
        message: expect.stringMatching(/^point 11\/9999: unknown unit 'furlong' \(known: none, V, A,/),
      },
    ]);
  });

  it("rejects a point without a unit: 'none' must be said explicitly", () => {
    const { file, line } = withExtraLine(
      "no-unit",
      `  - { id: 11/9999, label: "Test", browseName: TestPoint, folder: PowerQuality/Voltage, dataType: Double }`,
    );
    expect(checkCatalog(file).problems).toEqual([
      {
        file,
        line,
        message: expect.stringMatching(/^point 11\/9999: .*must have required property 'unit'$/),
      },
    ]);
  });

  it("rejects a browse name already used in the same folder", () => {
    const { file, line } = withExtraLine("browse-name", pointLine("id: 11/9999, browseName: VoltageL1"));
    expect(checkCatalog(file).problems).toEqual([
      {
        file,
        line,
        message:
          "point 11/9999: browse name VoltageL1 is already used in folder PowerQuality/Voltage by 11/5",
      },
    ]);
  });

  it("reports a YAML syntax error with its line", () => {
    const { file, line } = withExtraLine("syntax", "  - id: 11/9999: label");
    const { catalog: none, problems } = checkCatalog(file);
    expect(none).toBeUndefined();
    expect(problems).toEqual([{ file, line, message: expect.stringMatching(/mappings/) }]);
  });

  it("reports a key written twice in one point as a YAML error on its line", () => {
    const { file, line } = withExtraLine(
      "twice",
      pointLine("id: 11/9999, id: 11/9998, browseName: TestPoint"),
    );
    expect(checkCatalog(file).problems).toEqual([{ file, line, message: "Map keys must be unique" }]);
  });

  it("makes loadCatalog throw E_CATALOG with the problems as file:line", () => {
    const { file, line } = withExtraLine("load", pointLine("id: 11/9999, browseName: VoltageL1"));
    let error: unknown;
    try {
      loadCatalog(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ProblemsError);
    expect((error as ProblemsError).code).toBe("E_CATALOG");
    expect((error as ProblemsError).problems.map(formatProblem)).toEqual([
      `${file}:${line}: point 11/9999: browse name VoltageL1 is already used in folder PowerQuality/Voltage by 11/5`,
    ]);
    expect((error as Error).message).toContain(`${file}:${line}: point 11/9999`);
  });

  it("reports a catalog file that does not exist", () => {
    const file = join(dir, "missing.yaml");
    expect(checkCatalog(file).problems).toEqual([{ file, line: 0, message: "cannot read file (ENOENT)" }]);
  });
});
