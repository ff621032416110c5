import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../harness/brokers.js";
import { runGateway } from "../harness/cli.js";
import { TEST_PKI } from "../harness/gateway.js";

const dir = mkdtempSync(join(tmpdir(), "smartgear-port-in-use-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `smartgear-gateway run` with one of its ports held by another program; its exit code and log. */
async function startWithPortTaken(key: "http.port" | "broker.port" | "opcua.port") {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const taken = (holder.address() as net.AddressInfo).port;
  const port = async (k: typeof key) => (k === key ? taken : await freePort());
  const config = join(dir, `${key}.yaml`);
  writeFileSync(
    config,
    [
      `broker: { host: 127.0.0.1, port: ${await port("broker.port")} }`,
      `opcua: { port: ${await port("opcua.port")}, pkiFolder: ${JSON.stringify(TEST_PKI)}, allowAnonymous: true, securityPolicies: [None] }`,
      `http: { host: 127.0.0.1, port: ${await port("http.port")} }`,
      `mqtt: { storeFolder: ${JSON.stringify(join(dir, "store"))} }`,
      "history: { enabled: false }",
      "log: { format: json }",
      "",
    ].join("\n"),
  );
  const child = runGateway(config);
  try {
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, taken, output: child.output() };
  } finally {
    child.kill("SIGKILL");
    holder.close();
  }
}

describe("a port already in use at start (issue 16)", () => {
  it.each(["http.port", "broker.port", "opcua.port"] as const)(
    "%s: exits 3 with a start-up failure that names the key, every line of the log JSON",
    { timeout: 150_000 },
    async (key) => {
      const { code, taken, output } = await startWithPortTaken(key);
      expect(code).toBe(3);
      const lines = output
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { message: string; error?: string });
      const failed = lines.find((l) => l.message === "start-up failed");
      // The OPC UA server listens on every address (opcua.hostname is what it advertises).
      const where = key === "opcua.port" ? "all addresses" : "127.0.0.1";
      expect(failed?.error).toBe(
        `${key}: ${where} port ${taken} is in use by another program (another gateway?): stop it, or set ${key} to a free port`,
      );
    },
  );
});
