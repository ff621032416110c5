import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkSetup } from "../../src/app/setup.js";
import { envKeys } from "../../src/config/config-loader.js";
import { configSchema } from "../../src/config/config-schema.js";
import { groupShards, shardOverlaps } from "../../src/config/shards.js";
import { USERS_FILE_MISSING } from "../../src/security/users.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";

// docker cannot build here: these tests hold the Dockerfile and the compose file to the project
// (every path they name exists, every port and key they use is the gateway's), so that the image
// a user builds elsewhere starts.

const root = (...p: string[]) => join(PROJECT_ROOT, ...p);
const pkg = JSON.parse(readFileSync(root("package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
};

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages and instructions: continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = "", args = ""] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === "FROM") {
      const [from = "", , name = ""] = args.split(/\s+/);
      stages.push({ from, name, instructions: [] });
    } else stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args: args.replace(/\s+/g, " ") });
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(root("Dockerfile"), "utf8"));
const build = stages[0]!;
const runtime = stages.at(-1)!;
const all = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const jsonArgs = (args: string) => JSON.parse(args) as string[];

/** ENV k=v pairs of a stage (the form the Dockerfile uses). */
const imageEnv: Record<string, string> = Object.fromEntries(
  all(runtime, "ENV").flatMap((a) => [...a.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
);

type SchemaNode = { default?: unknown; properties?: Record<string, SchemaNode> };
const schemaDefault = (...path: string[]) =>
  path.reduce<SchemaNode>((n, k) => n.properties![k]!, configSchema as unknown as SchemaNode).default;

/** dist/src/x.js ⇒ src/x.ts: the build compiles src/ with rootDir "." into dist/. */
const sourceOf = (script: string) => script.replace(/^dist\//, "").replace(/\.js$/, ".ts");

/** A compose service's environment, each ${VAR:-default} as compose substitutes it when VAR is unset. */
const composeEnv = (environment: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries(environment as Record<string, string>).map(([k, v]) => [
      k,
      v.replace(/\$\{\w+:-([^}]*)\}/g, "$1"),
    ]),
  );

describe("the Dockerfile", () => {
  it("builds in one stage and runs in a slim one, on a supported Node.js LTS the package accepts", () => {
    expect(stages.map((s) => s.name)).toEqual(["build", "runtime"]);
    const majors = stages.map((s) => /^node:(\d+)-[a-z]+-slim$/.exec(s.from)?.[1]);
    expect(majors[0]).toBe(majors[1]);
    const major = Number(majors[1]);
    // Node 20 reached its end of life on 2026-04-30 (issue 16); LTS lines are the even majors.
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(22);
    expect(major).toBeGreaterThanOrEqual(Number(/\d+/.exec(pkg.engines.node)?.[0]));
    expect(all(build, "RUN")).toEqual(["npm ci", "npm run build"]);
    expect(all(runtime, "RUN")[0]).toBe("npm ci --omit=dev && npm cache clean --force");
  });

  it("copies only files that exist and that .dockerignore lets into the context", () => {
    const ignored = readFileSync(root(".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    for (const stage of stages)
      for (const args of all(stage, "COPY").filter((a) => !a.startsWith("--from"))) {
        const sources = args.split(" ").slice(0, -1);
        for (const src of sources) {
          expect(existsSync(root(src)), `COPY ${src}`).toBe(true);
          expect(ignored, `COPY ${src} is in .dockerignore`).not.toContain(src);
        }
      }
  });

  it("takes from the build stage only what its build writes: dist/", () => {
    const fromBuild = all(runtime, "COPY").filter((a) => a.startsWith("--from="));
    expect(fromBuild).toEqual(["--from=build /app/dist ./dist"]);
    expect(all(build, "WORKDIR")).toEqual(["/app"]);
    const tsconfig = JSON.parse(readFileSync(root("tsconfig.json"), "utf8")) as {
      compilerOptions: { outDir: string; rootDir: string };
    };
    expect(tsconfig.compilerOptions).toMatchObject({ outDir: "dist", rootDir: "." });
    expect(all(build, "COPY")).toEqual(
      expect.arrayContaining(["tsconfig.json tsconfig.build.json ./", "src ./src"]),
    );
  });

  it("starts the CLI the package names, which the build compiles from src/, with a config it copies", () => {
    const [cmd] = all(runtime, "CMD").map(jsonArgs);
    expect(cmd?.slice(0, 3)).toEqual(["node", "dist/src/cli.js", "run"]);
    // The package's command runs the sources in a clone, and in the image (no src/) this file.
    const launcher = readFileSync(root(Object.values(pkg.bin)[0]!), "utf8");
    expect(launcher).toContain(`"../${cmd?.[1]}"`);
    expect(existsSync(root(sourceOf(cmd![1]!)))).toBe(true);
    const config = cmd![cmd!.indexOf("--config") + 1]!;
    expect(config.startsWith("config/")).toBe(true);
    expect(all(runtime, "COPY")).toContain("config ./config");
    // Valid with the image's environment, whose SMARTGEAR_ variables must all name keys.
    expect(checkSetup(root(config), imageEnv).problems).toEqual([]);
  });

  it("runs as the non-root node user with JSON logs and the listeners open to the container network", () => {
    expect(runtime.instructions.filter((i) => i.op === "USER").at(-1)?.args).toBe("node");
    const user = runtime.instructions.findIndex((i) => i.op === "USER");
    const cmd = runtime.instructions.findIndex((i) => i.op === "CMD");
    expect(user).toBeLessThan(cmd);
    expect(imageEnv).toMatchObject({
      NODE_ENV: "production",
      SMARTGEAR_BROKER_HOST: "0.0.0.0",
      SMARTGEAR_HTTP_HOST: "0.0.0.0",
      SMARTGEAR_LOG_FORMAT: "json",
    });
    const names = new Set(envKeys().map((k) => k.env));
    for (const name of Object.keys(imageEnv).filter((n) => n.startsWith("SMARTGEAR_")))
      expect(names.has(name), name).toBe(true);
  });

  it("keeps the site config, the data and the PKI in volumes the node user owns", () => {
    const volumes = all(runtime, "VOLUME").flatMap(jsonArgs);
    const pki = `/app/${schemaDefault("opcua", "pkiFolder")}`;
    expect(volumes).toEqual(["/app/config/site", "/app/data", pki]);
    const prepared = all(runtime, "RUN").find((r) => r.startsWith("mkdir"));
    for (const v of volumes) expect(prepared).toContain(v);
    expect(prepared).toContain("chown -R node:node");
  });

  it("exposes the default ports of OPC UA, the embedded broker, its TLS listener and HTTP", () => {
    const exposed = all(runtime, "EXPOSE").flatMap((a) => a.split(" ").map(Number));
    expect(exposed).toEqual([
      schemaDefault("opcua", "port"),
      schemaDefault("broker", "port"),
      schemaDefault("broker", "tls", "port"),
      schemaDefault("http", "port"),
    ]);
  });

  it("checks /healthz with node's fetch (no curl in the slim image) on the HTTP port in force", () => {
    const [healthcheck] = all(runtime, "HEALTHCHECK");
    expect(healthcheck).toBeDefined();
    const cmd = jsonArgs(healthcheck!.slice(healthcheck!.indexOf("CMD ") + 4));
    expect(cmd.slice(0, 2)).toEqual(["node", "-e"]);
    const script = cmd[2]!;
    expect(script).toContain("fetch('http://127.0.0.1:'");
    expect(script).toContain("/healthz'");
    // The port the gateway listens on: SMARTGEAR_HTTP_PORT when set, else the default.
    expect(script).toContain(`process.env.SMARTGEAR_HTTP_PORT || ${schemaDefault("http", "port")}`);
    expect(healthcheck).toMatch(/--start-period=\d+s/);
  });
});

describe("docker-compose.yml, the Industrial Edge example", () => {
  const compose = parse(readFileSync(root("docker-compose.yml"), "utf8")) as {
    services: Record<string, Record<string, unknown>>;
    secrets: Record<string, { file: string }>;
    volumes: Record<string, unknown>;
    networks: Record<string, { external?: boolean; name?: string }>;
  };
  const service = compose.services["smartgear-gateway"]!;
  const env = composeEnv(service.environment);
  const command = service.command as string[];
  const configFile = command[command.indexOf("--config") + 1]!;
  // As in the container: the config file in /app/config, the site volume beside it holding the
  // users file a site puts there.
  const app = mkdtempSync(join(tmpdir(), "smartgear-ie-"));
  afterAll(() => rmSync(app, { recursive: true, force: true }));
  mkdirSync(join(app, "config", "site"), { recursive: true });
  writeFileSync(
    join(app, "config", "site", "users.yaml"),
    "users:\n  - { username: engineer, roles: [Engineer] }\n",
  );
  copyFileSync(root(configFile), join(app, configFile));
  const setup = checkSetup(join(app, configFile), { ...imageEnv, ...env });

  it("builds this project's image, tagged with the package version, and starts its CLI", () => {
    expect(service.build).toBe(".");
    expect(service.image).toBe(`smartgear-gateway:${pkg.version}`);
    expect(command.slice(0, 3)).toEqual(all(runtime, "CMD").map(jsonArgs)[0]!.slice(0, 3));
    expect(configFile).toBe("config/industrial-edge.yaml");
  });

  it("runs config/industrial-edge.yaml against the IE Databus with the credentials from outside", () => {
    expect(setup.problems).toEqual([]);
    const config = setup.setup!.config;
    expect(config.mqtt.url).toBe("mqtt://ie-databus:1883");
    expect(config.mqtt.username).toBe("edge");
    expect(config.mqtt.password).toBe("");
    expect(config.http.host).toBe("0.0.0.0");
    // The password file is a secret the service mounts, declared with its file.
    const secret = config.mqtt.passwordFile.replace("/run/secrets/", "");
    expect(config.mqtt.passwordFile).toBe(`/run/secrets/${secret}`);
    expect(service.secrets).toContain(secret);
    expect(compose.secrets[secret]?.file).toMatch(/^\.\/secrets\//);
    const names = new Set(envKeys().map((k) => k.env));
    for (const name of Object.keys(env).filter((n) => n.startsWith("SMARTGEAR_")))
      expect(names.has(name), name).toBe(true);
  });

  it("reads the OPC UA users from the site volume, and until a site puts the file there says how to make it", () => {
    const config = setup.setup!.config;
    expect(config.opcua.allowAnonymous).toBe(false);
    expect(config.opcua.usersFile).toBe(join(app, "config", "site", "users.yaml"));
    expect(setup.setup!.users.map((u) => u.username)).toEqual(["engineer"]);
    const site = (service.volumes as string[]).find((v) => v.endsWith(":/app/config/site"));
    expect(site).toBeDefined();
    // Without it (the project's config/site is no site): one problem, naming the file and the CLI.
    const bare = checkSetup(root(configFile), { ...imageEnv, ...env });
    expect(bare.problems).toEqual([
      { file: root("config", "site", "users.yaml"), line: 0, message: USERS_FILE_MISSING },
    ]);
    expect(USERS_FILE_MISSING).toContain("smartgear-gateway hash-password");
  });

  it("sets a memory limit, joins the Databus network and publishes only exposed ports", () => {
    // The image's young generation would take half of the 512 MB under a heavy load.
    expect(env.NODE_OPTIONS).toBe("--max-semi-space-size=32");
    expect(service.mem_limit).toMatch(/^\d+[mg]b$/);
    expect(service.networks).toEqual(["proxy-redirect"]);
    expect(compose.networks["proxy-redirect"]).toEqual({ external: true, name: "proxy-redirect" });
    const exposed = all(runtime, "EXPOSE").flatMap((a) => a.split(" "));
    const config = setup.setup!.config;
    for (const port of service.ports as string[]) {
      const container = port.split(":").at(-1)!;
      expect(exposed).toContain(container);
    }
    expect((service.ports as string[]).map((p) => Number(p.split(":").at(-1)))).toEqual([
      config.opcua.port,
      config.http.port,
    ]);
  });

  it("mounts named volumes on exactly the image's volumes", () => {
    const mounts = (service.volumes as string[]).map((v) => v.split(":") as [string, string]);
    expect(mounts.map(([, target]) => target)).toEqual(all(runtime, "VOLUME").flatMap(jsonArgs));
    for (const [source] of mounts) expect(Object.keys(compose.volumes)).toContain(source);
  });
});

describe("deploy/shards/compose.yaml, the shard example", () => {
  const dir = root("deploy", "shards");
  const compose = parse(readFileSync(join(dir, "compose.yaml"), "utf8"), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
    volumes: Record<string, unknown>;
  };
  const services = Object.entries(compose.services);
  const members = services.filter(([, s]) => s.build !== undefined);
  const simulators = services.filter(([, s]) => String(s.command).includes("scripts/simulator/main.ts"));
  const mounts = (s: Record<string, unknown>) => (s.volumes as string[]).map((v) => v.split(":"));
  /** The member's config file on the host and as the gateway loads it (image and service env). */
  const memberSetup = (s: Record<string, unknown>) => {
    const command = s.command as string[];
    const target = `/app/${command[command.indexOf("--config") + 1]}`;
    const [host] = mounts(s).find(([, t]) => t === target)!;
    const file = join(dir, host!);
    return { file, ...checkSetup(file, { ...imageEnv, ...composeEnv(s.environment) }) };
  };

  it("runs two shards of two members each, this project's image with its own CLI", () => {
    expect(members.map(([name]) => name)).toEqual(["shard-a-1", "shard-a-2", "shard-b-1", "shard-b-2"]);
    for (const [, s] of members) {
      expect(join(dir, s.build as string)).toBe(PROJECT_ROOT);
      expect(s.image).toBe(`smartgear-gateway:${pkg.version}`);
      expect((s.command as string[]).slice(0, 3)).toEqual(all(runtime, "CMD").map(jsonArgs)[0]!.slice(0, 3));
      expect(s.depends_on).toEqual(["broker"]);
      expect((s.environment as Record<string, string>).NODE_OPTIONS).toBe("--max-semi-space-size=32");
    }
  });

  it("mounts configs that validate, against the compose broker, each member with its own client id and ports", () => {
    const setups = members.map(([, s]) => memberSetup(s));
    for (const { problems } of setups) expect(problems).toEqual([]);
    const configs = setups.map((m) => m.setup!.config);
    for (const c of configs) expect(c.mqtt.url).toBe("mqtt://broker:1883");
    expect(new Set(configs.map((c) => c.mqtt.clientId)).size).toBe(members.length);
    const hostPorts = members.flatMap(([, s]) => (s.ports as string[]).map((p) => p.split(":")[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    // OPC UA on the published port itself: the endpoint a member advertises is the one clients reach.
    members.forEach(([, s], i) => {
      const { opcua, http } = configs[i]!;
      expect(s.ports).toEqual([
        `${opcua.port}:${opcua.port}`,
        expect.stringMatching(new RegExp(`:${http.port}$`)),
      ]);
      expect(opcua.hostname).toBe("localhost");
    });
    const volumes = members.flatMap(([, s]) =>
      mounts(s)
        .filter(([, t]) => t === "/app/data")
        .map(([v]) => v),
    );
    expect(new Set(volumes).size).toBe(members.length);
    for (const v of volumes) expect(Object.keys(compose.volumes)).toContain(v);
  });

  it("pairs the members into two shards whose filters no topic matches both of", () => {
    const shards = groupShards(
      members.map(([, s]) => memberSetup(s)).map((m) => ({ file: m.file, config: m.setup!.config })),
    );
    expect(shards.map((s) => s.files.map((f) => f.replace(`${dir}/`, "")))).toEqual([
      ["shard-a.yaml", "shard-a.yaml"],
      ["shard-b.yaml", "shard-b.yaml"],
    ]);
    expect(shardOverlaps(shards)).toEqual([]);
  });

  it("feeds them from a mosquitto with the mounted config and two simulated lineups with distinct names", () => {
    const broker = compose.services.broker!;
    expect(broker.image).toMatch(/^eclipse-mosquitto:2/);
    const [conf] = mounts(broker).find(([, t]) => t === "/mosquitto/config/mosquitto.conf")!;
    expect(readFileSync(join(dir, conf!), "utf8")).toMatch(/^listener 1883$/m);
    expect(simulators.map(([name]) => name)).toEqual(["lineup-a", "lineup-b"]);
    const firsts = simulators.map(([, s]) => {
      const command = s.command as string[];
      expect(mounts(s)[0]!.slice(0, 2)).toEqual(["../..", "/src"]);
      expect(existsSync(join(PROJECT_ROOT, command[3]!))).toBe(true);
      expect(command[command.indexOf("--url") + 1]).toBe("mqtt://broker:1883");
      return Number(command[command.indexOf("--first-device") + 1]);
    });
    // Four devices each: lineup B's names start after lineup A's.
    expect(firsts).toEqual([1, 5]);
  });
});
