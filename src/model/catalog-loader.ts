import { type Problem, ProblemsError } from "../shared/errors.js";
import { DEFAULT_CATALOG_FILE } from "../shared/paths.js";
import { compileOnFirstUse } from "../shared/schema.js";
import { readYamlFile, schemaProblems, type YamlSource } from "../shared/yaml-source.js";
import { catalogSchema } from "./catalog-schema.js";
import type {
  Access,
  Catalog,
  DataTypeName,
  FamilyDef,
  PointDef,
  Range,
  SourceRef,
  UnitDef,
} from "./catalog-types.js";
import { NUMERIC_TYPES } from "./catalog-types.js";

interface RawPoint {
  id: string;
  label: string;
  browseName: string;
  folder: string;
  dataType: DataTypeName;
  unit: string;
  range?: [number, number];
  access?: Access;
  writeRole?: "Operator" | "Engineer";
  alarm?: boolean;
  acknowledgeToDevice?: boolean;
  severity?: number;
  note?: string;
}

interface RawRule {
  name: string;
  family: string;
  firstId: number;
  label: string;
  assumption: string;
  quantities: { name: string; label: string }[];
  phases: string[];
  orders: { from: number; to: number };
  parts: { name: string; dataType: DataTypeName; unit: string; range?: [number, number] }[];
  folder: string;
  browseName: string;
}

interface RawCatalog {
  version: number;
  defaults?: { access?: Access; alarm?: boolean };
  families: Record<string, { name: string; label: string }>;
  units: Record<string, { unece: string | null; displayName: string; description: string }>;
  points: RawPoint[];
  rules?: RawRule[];
}

const validatorOfRaw = compileOnFirstUse<RawCatalog>(catalogSchema);

/** Loads, validates and cross-checks a catalog; throws ProblemsError listing every problem. */
export function loadCatalog(file: string = DEFAULT_CATALOG_FILE): Catalog {
  const { catalog, problems } = checkCatalog(file);
  if (!catalog) throw new ProblemsError("E_CATALOG", `invalid catalog ${file}`, problems);
  return catalog;
}

/** Like loadCatalog, but returns the problems instead of throwing (for `validate`). */
export function checkCatalog(file: string = DEFAULT_CATALOG_FILE): {
  catalog?: Catalog;
  problems: Problem[];
} {
  return buildCatalog(readYamlFile(file));
}

export function buildCatalog(src: YamlSource): { catalog?: Catalog; problems: Problem[] } {
  if (src.problems.length > 0) return { problems: src.problems };
  const raw = src.data;
  const validateRaw = validatorOfRaw();
  if (!validateRaw(raw)) {
    const describe = (path: (string | number)[]): string => {
      if (path[0] !== "points" || typeof path[1] !== "number") return "";
      const id = (raw as { points?: { id?: unknown }[] })?.points?.[path[1]]?.id;
      return typeof id === "string" ? `point ${id}: ` : "";
    };
    return { problems: schemaProblems(src, validateRaw.errors, describe) };
  }

  const problems: Problem[] = [];
  const at = (line: number, message: string) => problems.push({ file: src.file, line, message });

  const families = new Map<string, FamilyDef>(
    Object.entries(raw.families).map(([id, f]) => [id, { id, name: f.name, label: f.label }]),
  );
  const units = new Map<string, UnitDef>(
    Object.entries(raw.units).map(([key, u]) => [
      key,
      { key, unece: u.unece, displayName: u.displayName, description: u.description },
    ]),
  );
  const access = raw.defaults?.access ?? "read";
  const alarm = raw.defaults?.alarm ?? false;

  const points: PointDef[] = [];
  const resolveUnit = (key: string, who: string, line: number): UnitDef | null | undefined => {
    if (key === "none") return null;
    const unit = units.get(key);
    if (!unit) at(line, `${who}: unknown unit '${key}' (known: none, ${[...units.keys()].join(", ")})`);
    return unit;
  };
  const toRange = (r: [number, number] | undefined, who: string, line: number): Range | null => {
    if (!r) return null;
    if (!(r[0] < r[1])) at(line, `${who}: range low ${r[0]} must be below high ${r[1]}`);
    return { low: r[0], high: r[1] };
  };

  raw.points.forEach((p, i) => {
    const line = src.lineOf(["points", i]);
    const who = `point ${p.id}`;
    const unit = resolveUnit(p.unit, who, line);
    if (unit === undefined) return;
    const isAlarm = p.alarm ?? alarm;
    if (p.severity !== undefined && !isAlarm)
      at(line, `${who}: severity is only meaningful on an alarm point`);
    if (p.range && !NUMERIC_TYPES.has(p.dataType))
      at(line, `${who}: a range needs a numeric dataType, not ${p.dataType}`);
    if (p.acknowledgeToDevice && !isAlarm)
      at(line, `${who}: acknowledgeToDevice is only meaningful on an alarm point`);
    const pointAccess = p.access ?? access;
    if (p.writeRole && pointAccess !== "readWrite")
      at(line, `${who}: writeRole is only meaningful on a readWrite point`);
    points.push(
      makePoint({
        topicId: p.id,
        label: p.label,
        browseName: p.browseName,
        folder: p.folder,
        dataType: p.dataType,
        unit,
        range: toRange(p.range, who, line),
        access: pointAccess,
        writeRole: pointAccess === "readWrite" ? (p.writeRole ?? "Engineer") : null,
        alarm: isAlarm,
        acknowledgeToDevice: isAlarm && (p.acknowledgeToDevice ?? false),
        severity: isAlarm ? (p.severity ?? 500) : null,
        note: p.note ?? null,
        generatedBy: null,
        source: { file: src.file, line },
      }),
    );
  });

  (raw.rules ?? []).forEach((rule, i) => {
    const line = src.lineOf(["rules", i]);
    for (const p of expandRule(rule, { file: src.file, line }, access, (key) =>
      resolveUnit(key, `rule ${rule.name}`, line),
    ))
      points.push(p);
  });

  crossCheck(points, families, at);
  if (problems.length > 0) return { problems };

  points.sort((a, b) => Number(a.family) - Number(b.family) || a.id - b.id);
  const byTopicId = new Map(points.map((p) => [p.topicId, p]));
  return { catalog: { file: src.file, version: raw.version, families, units, points, byTopicId }, problems };
}

function makePoint(
  p: Omit<PointDef, "family" | "id" | "folder" | "browsePath"> & { folder: string },
): PointDef {
  const [family = "", id = ""] = p.topicId.split("/");
  const folder = p.folder.split("/");
  return { ...p, family, id: Number(id), folder, browsePath: `${p.folder}/${p.browseName}` };
}

/** Expands a rule into points: quantities × phases × orders × parts, ids counted from firstId. */
function expandRule(
  rule: RawRule,
  source: SourceRef,
  access: Access,
  unitOf: (key: string) => UnitDef | null | undefined,
): PointDef[] {
  const out: PointDef[] = [];
  const partUnits = rule.parts.map((part) => unitOf(part.unit));
  let id = rule.firstId;
  for (const q of rule.quantities)
    for (const phase of rule.phases)
      for (let order = rule.orders.from; order <= rule.orders.to; order++)
        rule.parts.forEach((part, k) => {
          const fill = (t: string) =>
            t
              .replace("{quantity}", q.name)
              .replace("{phase}", phase)
              .replace(/\{order(?::(\d))?\}/, (_m, w: string | undefined) =>
                String(order).padStart(Number(w ?? 0), "0"),
              )
              .replace("{part}", part.name);
          const unit = partUnits[k];
          if (unit !== undefined)
            out.push(
              makePoint({
                topicId: `${rule.family}/${id}`,
                label: `${q.label} ${phase} Order ${order} ${part.name}`,
                browseName: fill(rule.browseName),
                folder: fill(rule.folder),
                dataType: part.dataType,
                unit,
                range: part.range ? { low: part.range[0], high: part.range[1] } : null,
                access,
                writeRole: access === "readWrite" ? "Engineer" : null,
                alarm: false,
                acknowledgeToDevice: false,
                severity: null,
                note: `Generated by catalog rule '${rule.name}' from the vendor's '${rule.label}'. Assumption: ${rule.assumption}`,
                generatedBy: rule.name,
                source,
              }),
            );
          id++;
        });
  return out;
}

/** The checks a schema cannot express: unique ids and browse paths, known families, sane names. */
function crossCheck(
  points: readonly PointDef[],
  families: ReadonlyMap<string, FamilyDef>,
  at: (line: number, message: string) => void,
): void {
  const ids = new Map<string, PointDef>();
  const paths = new Map<string, PointDef>();
  const folders = new Set<string>();
  for (const p of points) {
    const seen = ids.get(p.topicId);
    if (seen)
      at(
        p.source.line,
        `duplicate id ${p.topicId} (first defined at ${seen.source.file}:${seen.source.line})`,
      );
    else ids.set(p.topicId, p);
    if (!families.has(p.family))
      at(p.source.line, `point ${p.topicId}: family ${p.family} is not declared in families`);
    if (!/^[A-Z][A-Za-z0-9]*$/.test(p.browseName) || p.folder.some((f) => !/^[A-Z][A-Za-z0-9]*$/.test(f)))
      at(p.source.line, `point ${p.topicId}: browse path '${p.browsePath}' is not PascalCase segments`);
    const other = paths.get(p.browsePath);
    if (other)
      at(
        p.source.line,
        `point ${p.topicId}: browse name ${p.browseName} is already used in folder ${p.folder.join("/")} by ${other.topicId}`,
      );
    else paths.set(p.browsePath, p);
    for (let i = 1; i <= p.folder.length; i++) folders.add(p.folder.slice(0, i).join("/"));
  }
  for (const p of points)
    if (folders.has(p.browsePath))
      at(
        p.source.line,
        `point ${p.topicId}: browse name ${p.browseName} collides with a folder of the same path`,
      );
}
