import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { NODESET_FILE, PROJECT_ROOT } from "../../src/shared/paths.js";

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of the test run without SMARTGEAR_* overrides, which would change the outcome. */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SMARTGEAR_")));

/** Runs `smartgear-gateway <args>` from the sources, as a user runs the built CLI. */
function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      cwd: PROJECT_ROOT,
      env: { ...cleanEnv(), ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const INVALID = "test/fixtures/config/invalid-keys-and-types.yaml";

describe.concurrent("the command line", () => {
  it("prints the point list as 442 JSON objects", async () => {
    const { code, stdout, stderr } = await cli(["points", "--format", "json"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const rows = JSON.parse(stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(442);
    expect(rows[0]).toMatchObject({ topicId: "11/1", browsePath: "PowerQuality/Voltage/VoltageL1L2" });
  });

  it("prints the point list as CSV by default", async () => {
    const { code, stdout } = await cli(["points"]);
    expect(code).toBe(0);
    const lines = stdout.split("\r\n");
    expect(lines[0]).toMatch(/^topicId,label,browsePath,dataType,unit,/);
    expect(lines).toHaveLength(1 + 442 + 1);
  });

  it("validates the default configuration and exits 0", async () => {
    const { code, stdout, stderr } = await cli(["validate"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ok: .*gateway\.yaml, catalog .*catalog\.yaml \(442 points\)\n$/);
  });

  it("rejects an invalid configuration with exit 1 and every problem as file:line on stderr", async () => {
    const { code, stdout, stderr } = await cli(["validate", "--config", INVALID]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    const lines = stderr.trimEnd().split("\n");
    expect(lines).toContain(
      `${INVALID}:3: log.level: must be equal to one of the allowed values: error, warn, info, debug`,
    );
    expect(lines).toContain(`${INVALID}:6: mqtt: unknown key 'kepalive' (did you mean 'keepalive'?)`);
    expect(lines).toContain(`${INVALID}:8: opcua.port: must be integer`);
    expect(lines.at(-1)).toBe("6 problem(s)");
  });

  it("refuses to run an invalid configuration with exit 1 and the problems validate gives (checked on its own thread)", async () => {
    const run = await cli(["run", "--config", INVALID]);
    const validated = await cli(["validate", "--config", INVALID]);
    expect(run.code).toBe(1);
    const [heading, ...problems] = run.stderr.trimEnd().split("\n");
    expect(heading).toBe(`invalid configuration ${INVALID}: 6 problem(s)`);
    expect(problems).toEqual(validated.stderr.trimEnd().split("\n").slice(0, -1));
  });

  it("reports a bad environment override as an environment problem", async () => {
    const { code, stderr } = await cli(["validate"], { SMARTGEAR_OPCUA_PORT: "abc" });
    expect(code).toBe(1);
    expect(stderr).toContain("environment: SMARTGEAR_OPCUA_PORT: opcua.port: must be integer\n");
  });

  it("checks a sharded site: members with the same filters are one shard, and no topic may match two", async () => {
    const site = ["deploy/shards/shard-a.yaml", "deploy/shards/shard-b.yaml"];
    const ok = await cli(["shards", ...site, site[0]!]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^shard 1: .*\+\/\+\/\+\/Feeder 01\/\+ .*\(deploy\/shards\/shard-a\.yaml, deploy\/shards\/shard-a\.yaml\)\n/,
    );
    expect(ok.stdout).toMatch(/\nok: 2 shard\(s\), no topic matches two of them\n$/);
    // The default configuration subscribes to whole families: every device of shard A's too.
    const overlap = await cli(["shards", ...site, "config/gateway.yaml"]);
    expect(overlap.code).toBe(1);
    expect(overlap.stderr).toContain(
      "'+/+/+/Feeder 01/+' (deploy/shards/shard-a.yaml) and '11/#' (config/gateway.yaml) overlap: a device there would be mirrored by both shards\n",
    );
    expect(overlap.stderr.trimEnd().split("\n").at(-1)).toBe("0 invalid config(s), 48 overlap(s)");
  });

  it("refuses to print points for an invalid configuration, exiting 1", async () => {
    const { code, stdout, stderr } = await cli(["points", "--config", INVALID]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(`${INVALID}:6: mqtt: unknown key 'kepalive'`);
  });

  it("exits 2 on an unknown command, with the usage", async () => {
    const { code, stdout, stderr } = await cli(["frobnicate"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^unknown command 'frobnicate'\nUsage: smartgear-gateway/);
  });

  it("exits 2 on an unknown option or format", async () => {
    const option = await cli(["points", "--bogus"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("--bogus");
    const format = await cli(["points", "--format", "xml"]);
    expect(format.code).toBe(2);
    expect(format.stderr).toBe("--format must be csv or json, not 'xml'\n");
  });

  it("names an unknown option, and the option meant when it is a typo, with exit 2", async () => {
    const typo = await cli(["run", "--confg", "gateway.yaml"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(
      /^unknown option --confg \(did you mean --config\?\)\nUsage: smartgear-gateway/,
    );
    const unknown = await cli(["validate", "--verbose"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^unknown option --verbose\nUsage:/);
  });

  it("names what a command misses, or what it does not take, with exit 2", async () => {
    const cases: [string[], string][] = [
      [["pki"], "pki needs an action: list, trust, reject or crl"],
      [["pki", "trust"], "pki trust needs a THUMBPRINT or FILE"],
      [["pki", "reject"], "pki reject needs a THUMBPRINT"],
      [["pki", "crl"], "pki crl needs a FILE"],
      [["pki", "list", "all"], "pki list takes no further argument, not 'all'"],
      [["validate", "gateway.yaml"], "validate takes no further argument, not 'gateway.yaml'"],
      [["shards", "gateway.yaml"], "shards needs the config FILEs of every member of the site"],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await cli(args);
      expect({ args, code, stdout, first: stderr.split("\n")[0] }).toEqual({
        args,
        code: 2,
        stdout: "",
        first: message,
      });
    }
  });

  it("runs as the package's command (npx smartgear-gateway) right after npm ci, before any build", async () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [join(PROJECT_ROOT, pkg.bin["smartgear-gateway"]!), "help"],
      { cwd: tmpdir(), env: cleanEnv(), timeout: 60_000 },
    );
    expect(stderr).toBe("");
    expect(stdout).toMatch(/^Usage: smartgear-gateway/);
  });

  it("prints the help with exit 0", async () => {
    const { code, stdout } = await cli(["help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: smartgear-gateway/);
  });

  it("prints nothing but the NodeSet2 XML on stdout, the committed one", async () => {
    const { code, stdout } = await cli(["nodeset"]);
    expect(code).toBe(0);
    expect(stdout === readFileSync(NODESET_FILE, "utf8"), "stdout differs from the committed NodeSet2").toBe(
      true,
    );
  });
});
