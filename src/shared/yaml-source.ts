import { readFileSync } from "node:fs";
import type { ErrorObject } from "ajv";
import { isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { didYouMean } from "./did-you-mean.js";
import type { Problem } from "./errors.js";

/** A YAML file parsed to plain data, able to say on which line any part of it stands. */
export interface YamlSource {
  file: string;
  data: unknown;
  /** Syntax problems; `data` is undefined when there are any. */
  problems: Problem[];
  /** The line of the node at `path`, or of its nearest existing ancestor (1-based). */
  lineOf(path: readonly (string | number)[]): number;
}

export function readYamlFile(file: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    return {
      file,
      data: undefined,
      problems: [{ file, line: 0, message: `cannot read file (${reason})` }],
      lineOf: () => 0,
    };
  }
  return parseYamlText(text, file);
}

export function parseYamlText(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  // uniqueKeys: a key written twice is a mistake in a config, not an override.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [...doc.errors, ...doc.warnings].map((e) => ({
    file,
    line: lineCounter.linePos(e.pos[0]).line,
    message: e.message.split("\n")[0] ?? e.message,
  }));
  const lineAt = (node: Node | null | undefined): number =>
    node?.range ? lineCounter.linePos(node.range[0]).line : 0;
  const lineOf = (path: readonly (string | number)[]): number => {
    let node: unknown = doc.contents;
    let line = lineAt(doc.contents as Node | null);
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => String((p.key as { value?: unknown })?.value ?? p.key) === String(key),
        );
        if (!pair) break;
        // The key's line: a block mapping or sequence value starts on the line below its key.
        line = lineAt(pair.key as Node) || lineAt(pair.value as Node) || line;
        node = pair.value;
      } else if (isSeq(node)) {
        node = node.items[Number(key)];
        if (node === undefined) break;
        line = lineAt(node as Node) || line;
      } else break;
    }
    return line;
  };
  return { file, data: problems.length === 0 ? doc.toJS() : undefined, problems, lineOf };
}

/** Splits an ajv instancePath (`/points/3/unit`) into keys. */
export function pathOf(instancePath: string): (string | number)[] {
  if (instancePath === "") return [];
  return instancePath
    .slice(1)
    .split("/")
    .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
}

/** Turns ajv's errors into located problems; `describe` may name the item (a point's id). */
export function schemaProblems(
  src: YamlSource,
  errors: readonly ErrorObject[] | null | undefined,
  describe: (path: (string | number)[]) => string = () => "",
): Problem[] {
  return reportable(errors).map((e) => schemaProblem(src, e, describe));
}

/** ajv reports a badly named key twice (its pattern, then "property name must be valid"); once is enough. */
export function reportable(errors: readonly ErrorObject[] | null | undefined): ErrorObject[] {
  return (errors ?? []).filter((e) => e.keyword !== "propertyNames");
}

export function schemaProblem(
  src: YamlSource,
  e: ErrorObject,
  describe: (path: (string | number)[]) => string = () => "",
): Problem {
  const path = pathOf(e.instancePath);
  // ajv places an unknown or badly named key at its parent object; the key has a line of its own.
  const key = offendingKey(e);
  const line = src.lineOf(key === undefined ? path : [...path, key]);
  return { file: src.file, line, message: `${describe(path)}${schemaMessage(e)}` };
}

function offendingKey(e: ErrorObject): string | undefined {
  if (e.keyword === "additionalProperties")
    return (e.params as { additionalProperty: string }).additionalProperty;
  return e.propertyName;
}

/** `mqtt.port: must be <= 65535`, in the words a user of the YAML file knows. */
export function schemaMessage(e: ErrorObject): string {
  const where = e.instancePath === "" ? "(top level)" : e.instancePath.slice(1).replace(/\//g, ".");
  let detail = e.message ?? "is invalid";
  if (e.keyword === "enum")
    detail += `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`;
  if (e.keyword === "additionalProperties") {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    detail = `unknown key '${key}'${didYouMean(key, known)}`;
  } else if (e.propertyName !== undefined) detail = `key '${e.propertyName}' ${detail}`;
  return `${where}: ${detail}`;
}
