import type { RoleName } from "../security/role-names.js";
import { type Problem, ProblemsError } from "../shared/errors.js";
import { compileOnFirstUse } from "../shared/schema.js";
import { readYamlFile, schemaProblems } from "../shared/yaml-source.js";
import type { Catalog, PointDef } from "./catalog-types.js";
import { commandCatalogSchema } from "./command-catalog-schema.js";
import type { ArgumentType, CommandDef, CommandInput } from "./command-catalog-types.js";
import { DEVICE_ID_PARTS } from "./device-identity.js";

/** What a command's topic template may name: its point's family and id, and the device's parts. */
const TOPIC_PLACEHOLDERS = ["family", "id", ...DEVICE_ID_PARTS] as const;

interface Publication {
  topic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  reply: CommandDef["reply"];
}

interface Raw {
  writes: Publication;
  acknowledgements: Publication;
  defaults: { topic: string; qos: 0 | 1 | 2; retain: boolean; reply: CommandDef["reply"]; role: RoleName };
  commands: {
    name: string;
    description: string;
    on: string;
    family: string;
    id: string;
    topic?: string;
    payload?: Record<string, unknown>;
    inputs: {
      name: string;
      dataType: ArgumentType;
      description: string;
      range?: number[];
      enum?: (string | number)[];
    }[];
    qos?: 0 | 1 | 2;
    retain?: boolean;
    reply?: CommandDef["reply"];
    role?: RoleName;
  }[];
}

const validator = compileOnFirstUse<Raw>(commandCatalogSchema);
const NUMERIC = new Set<ArgumentType>(["UInt16", "UInt32", "Int32", "Double"]);

/** Reads and cross-checks the command catalog against the point catalog's folders. */
export function checkCommands(
  file: string,
  catalog: Catalog,
): { commands?: CommandDef[]; problems: Problem[] } {
  const src = readYamlFile(file);
  if (src.problems.length > 0) return { problems: src.problems };
  const validate = validator();
  if (!validate(src.data)) return { problems: schemaProblems(src, validate.errors) };
  const raw = src.data;
  const folders = new Set<string>([""]);
  for (const p of catalog.points)
    for (let i = 1; i <= p.folder.length; i++) folders.add(p.folder.slice(0, i).join("/"));

  const problems: Problem[] = [];
  const seen = new Set<string>();
  const commands = raw.commands.map((c, i): CommandDef => {
    const line = src.lineOf(["commands", i]);
    const at = (message: string) => problems.push({ file, line, message: `command ${c.name}: ${message}` });
    if (!folders.has(c.on)) at(`folder '${c.on}' is not a folder of the catalog`);
    const where = `${c.on}/${c.name}`;
    if (seen.has(where)) at(`is declared twice on '${c.on}'`);
    seen.add(where);
    const topic = c.topic ?? raw.defaults.topic;
    for (const problem of placeholderProblems(topic)) at(problem);
    const names = new Set(c.inputs.map((a) => a.name));
    if (names.size !== c.inputs.length) at("two inputs have the same name");
    // The gateway adds it to every method (README, Commands: the client's commandId).
    if (names.has("CommandId")) at("an input may not be named CommandId, the gateway's own last argument");
    const referenced = new Set(
      [...JSON.stringify(c.payload ?? {}).matchAll(/\{input:([^}]*)\}/g)].map((m) => m[1]!),
    );
    for (const ref of referenced)
      if (!names.has(ref)) at(`payload names input '${ref}', which is not declared`);
    // An argument the payload does not carry would be accepted from the caller and silently lost.
    for (const name of names) if (!referenced.has(name)) at(`input ${name} is not used in the payload`);
    const inputs = c.inputs.map((a): CommandInput => {
      if (a.range && !NUMERIC.has(a.dataType)) at(`input ${a.name}: a range needs a numeric dataType`);
      if (a.range && !(a.range[0]! < a.range[1]!)) at(`input ${a.name}: range low must be below high`);
      for (const v of a.enum ?? [])
        if (typeof v !== (NUMERIC.has(a.dataType) ? "number" : "string"))
          at(`input ${a.name}: enum value ${JSON.stringify(v)} is not a ${a.dataType}`);
      return {
        name: a.name,
        dataType: a.dataType,
        description: a.description,
        range: a.range ? { low: a.range[0]!, high: a.range[1]! } : null,
        enum: a.enum ?? null,
      };
    });
    return {
      name: c.name,
      description: c.description,
      on: c.on === "" ? [] : c.on.split("/"),
      family: c.family,
      id: c.id,
      topic,
      payload: c.payload ?? {},
      inputs,
      qos: c.qos ?? raw.defaults.qos,
      retain: c.retain ?? raw.defaults.retain,
      reply: c.reply ?? raw.defaults.reply,
      role: c.role ?? raw.defaults.role,
      line,
      writeOf: null,
    };
  });
  const writesLine = src.lineOf(["writes"]);
  for (const problem of placeholderProblems(raw.writes.topic))
    problems.push({ file, line: writesLine, message: `writes: ${problem}` });
  for (const p of catalog.points) {
    if (p.access !== "readWrite") continue;
    const dataType = WRITE_ARGUMENT[p.dataType];
    if (!dataType) {
      problems.push({
        file: p.source.file,
        line: p.source.line,
        message: `point ${p.topicId}: ${p.dataType} points cannot be written`,
      });
      continue;
    }
    commands.push(
      pointCommand(p, `Write${p.browseName}`, `Write of ${p.label} (${p.topicId})`, raw.writes, writesLine, {
        payload: { value: "{input:Value}" },
        inputs: [{ name: "Value", dataType, description: p.label, range: p.range, enum: null }],
        role: p.writeRole ?? "Engineer",
        writeOf: p.topicId,
      }),
    );
  }
  const ackLine = src.lineOf(["acknowledgements"]);
  for (const problem of placeholderProblems(raw.acknowledgements.topic))
    problems.push({ file, line: ackLine, message: `acknowledgements: ${problem}` });
  for (const p of catalog.points.filter((x) => x.acknowledgeToDevice))
    commands.push(
      pointCommand(
        p,
        `Acknowledge${p.browseName}`,
        `Acknowledgement of ${p.label} (${p.topicId})`,
        raw.acknowledgements,
        ackLine,
        {
          payload: { state: "{input:State}", comment: "{input:Comment}" },
          inputs: [
            {
              name: "State",
              dataType: "String",
              description: "",
              range: null,
              enum: ["Acknowledged", "Confirmed"],
            },
            {
              name: "Comment",
              dataType: "String",
              description: "",
              range: null,
              enum: null,
              allowEmpty: true,
            },
          ],
          role: "Operator",
          writeOf: null,
          acknowledgeOf: p.topicId,
        },
      ),
    );
  return problems.length > 0 ? { problems } : { commands, problems };
}

/** A command the gateway makes for one catalog point (a write, an acknowledgement), on its folder. */
function pointCommand(
  p: PointDef,
  name: string,
  description: string,
  publication: Publication,
  line: number,
  rest: Pick<CommandDef, "payload" | "inputs" | "role" | "writeOf" | "acknowledgeOf">,
): CommandDef {
  return {
    name,
    description,
    on: p.folder,
    family: p.family,
    id: String(p.id),
    topic: publication.topic,
    qos: publication.qos,
    retain: publication.retain,
    reply: publication.reply,
    line,
    ...rest,
  };
}

/** The argument type a written value of a point type is checked as; DateTime is not writable. */
const WRITE_ARGUMENT: Partial<Record<string, ArgumentType>> = {
  Boolean: "Boolean",
  Byte: "Int32",
  SByte: "Int32",
  Int16: "Int32",
  UInt16: "UInt16",
  Int32: "Int32",
  UInt32: "UInt32",
  Float: "Double",
  Double: "Double",
  String: "String",
};

function placeholderProblems(topic: string): string[] {
  return [...topic.matchAll(/\{([^}]*)\}/g)]
    .map((m) => m[1]!)
    .filter((name) => !(TOPIC_PLACEHOLDERS as readonly string[]).includes(name))
    .map(
      (name) =>
        `topic placeholder {${name}} is not one of ${TOPIC_PLACEHOLDERS.map((p) => `{${p}}`).join(" ")}`,
    );
}

export function loadCommands(file: string, catalog: Catalog): CommandDef[] {
  const { commands, problems } = checkCommands(file, catalog);
  if (!commands) throw new ProblemsError("E_COMMANDS", `invalid command catalog ${file}`, problems);
  return commands;
}
