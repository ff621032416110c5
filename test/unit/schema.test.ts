import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { compileSchema } from "../../src/shared/schema.js";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("the schema compiler (src/shared/schema.ts)", () => {
  it("is the only place in src/ that sets up ajv, so every file the user writes is checked alike", () => {
    const setups = sources(join(PROJECT_ROOT, "src"))
      .filter((file) => /\bnew Ajv\b|\bAjv\(|import \{[^}]*\bAjv\b/.test(readFileSync(file, "utf8")))
      .map((file) => relative(PROJECT_ROOT, file));
    expect(setups).toEqual(["src/shared/schema.ts"]);
  });

  it("fills the schema's defaults only when asked, and reports every error at once", () => {
    const schema = {
      type: "object",
      properties: { a: { type: "integer", default: 1 }, b: { type: "string" } },
      additionalProperties: false,
    };
    const filled: Record<string, unknown> = {};
    expect(compileSchema(schema, { fillDefaults: true })(filled)).toBe(true);
    expect(filled).toEqual({ a: 1 });
    const untouched: Record<string, unknown> = {};
    expect(compileSchema(schema)(untouched)).toBe(true);
    expect(untouched).toEqual({});
    const validate = compileSchema(schema);
    expect(validate({ a: "x", b: 2 })).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath).sort()).toEqual(["/a", "/b"]);
  });

  it("refuses a schema with an unknown keyword (strict mode) when it is compiled", () => {
    expect(() => compileSchema({ type: "object", propertys: {} })).toThrow(/unknown keyword/);
  });
});
