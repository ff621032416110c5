import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/model/catalog-loader.js";
import { type PointRow, pointRows, toCsv } from "../../src/model/point-list.js";

const NS = "urn:smartgear-gateway:devices";
const catalog = loadCatalog();
const rows = pointRows(catalog, NS);
const row = (topicId: string): PointRow => {
  const r = rows.find((x) => x.topicId === topicId);
  if (!r) throw new Error(`no row for ${topicId}`);
  return r;
};

describe("the point list", () => {
  it("has one row per catalog point, in catalog order", () => {
    expect(rows).toHaveLength(442);
    expect(rows.map((r) => r.topicId)).toEqual(catalog.points.map((p) => p.topicId));
  });

  it("gives every row the columns a tag import needs", () => {
    for (const r of rows)
      expect(Object.keys(r)).toEqual(
        expect.arrayContaining(["topicId", "label", "browsePath", "dataType", "unit"]),
      );
    expect(JSON.parse(JSON.stringify(rows[0]))).toEqual({
      topicId: "11/1",
      label: "Voltage L1-L2",
      browsePath: "PowerQuality/Voltage/VoltageL1L2",
      dataType: "Double",
      unit: "V",
      unitCode: "VLT",
      rangeLow: 0,
      rangeHigh: 1000,
      access: "read",
      alarm: false,
      nodeIdTemplate: `nsu=${NS};s=11/1/{deviceType}/{deviceName}/{deviceSource}`,
    });
  });

  it('says "none" where a point has no unit, never an empty cell', () => {
    expect(row("11/500")).toMatchObject({ unit: "none", unitCode: "", rangeLow: null, rangeHigh: null });
    const none = rows.filter((r) => r.unit === "none");
    expect(none.length).toBe(catalog.points.filter((p) => p.unit === null).length);
    expect(rows.filter((r) => r.unit === "")).toEqual([]);
  });

  it("shows a unit without a UNECE code by its display name with an empty code", () => {
    expect(row("11/114")).toMatchObject({ unit: "varh", unitCode: "" });
    expect(row("11/200")).toMatchObject({ unit: "%", unitCode: "P1", rangeLow: 0, rangeHigh: 100 });
  });

  it("templates each NodeId from the namespace URI and the topic's last three levels", () => {
    for (const r of rows)
      expect(r.nodeIdTemplate).toBe(`nsu=${NS};s=${r.topicId}/{deviceType}/{deviceName}/{deviceSource}`);
    expect(pointRows(catalog, "urn:example:hall2")[0]!.nodeIdTemplate).toMatch(
      /^nsu=urn:example:hall2;s=11\/1\//,
    );
  });
});

describe("the CSV point list", () => {
  const csv = toCsv(rows);
  const lines = csv.split("\r\n");

  it("has a header naming the JSON keys in order, one CRLF-ended line per point", () => {
    expect(lines[0]).toBe(Object.keys(rows[0]!).join(","));
    expect(csv.endsWith("\r\n")).toBe(true);
    expect(lines).toHaveLength(1 + 442 + 1);
    expect(lines.at(-1)).toBe("");
    expect(csv).not.toMatch(/[^\r]\n/);
  });

  it("writes a plain row without quotes and null ranges as empty cells", () => {
    expect(lines[1]).toBe(
      `11/1,Voltage L1-L2,PowerQuality/Voltage/VoltageL1L2,Double,V,VLT,0,1000,read,false,nsu=${NS};s=11/1/{deviceType}/{deviceName}/{deviceSource}`,
    );
    expect(lines.find((l) => l.startsWith("11/500,"))).toMatch(/,none,,,,read,false,/);
  });

  it("quotes a label holding a comma or a quote, doubling the quote (RFC 4180)", () => {
    const odd: PointRow = { ...row("11/1"), label: 'Breaker "Q1", incomer' };
    const [, line] = toCsv([odd]).split("\r\n");
    expect(line).toBe(
      `11/1,"Breaker ""Q1"", incomer",PowerQuality/Voltage/VoltageL1L2,Double,V,VLT,0,1000,read,false,nsu=${NS};s=11/1/{deviceType}/{deviceName}/{deviceSource}`,
    );
  });

  it("quotes a cell holding a line break", () => {
    const odd: PointRow = { ...row("11/1"), label: "two\nlines" };
    expect(toCsv([odd])).toContain(',"two\nlines",');
  });
});
