import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  AttributeIds,
  type ClientMonitoredItem,
  type DataValue,
  StatusCodes,
  TimestampsToReturn,
} from "node-opcua";
import { afterAll, describe, expect, it } from "vitest";
import { reloadConfig } from "../../src/app/reload.js";
import { checkSetup } from "../../src/app/setup.js";
import { getLogger } from "../../src/shared/logger.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { publish } from "../harness/brokers.js";
import { compiled } from "../harness/compiled.js";
import { startGateway, TEST_PKI, testEnv } from "../harness/gateway.js";
import { connectClient, nodeOf } from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const T5 = "11/5/3WA/Feeder 01/ETU";
const dir = mkdtempSync(join(tmpdir(), "smartgear-reload-it-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What startGateway runs with, as a file a SIGHUP would read again. */
const testConfig = (extra: string) =>
  `broker: { port: 0 }\nhttp: { port: 0 }\nopcua: { port: 0, pkiFolder: ${JSON.stringify(TEST_PKI)}, allowAnonymous: true, securityPolicies: [None, Basic256Sha256] }\n${extra}`;

describe("reloading the configuration of a running gateway", () => {
  it("applies a new stale time without closing a connected client's session or subscription", async () => {
    const gw = await startGateway();
    const client = await connectClient(gw.endpointUrl);
    try {
      const sessionId = client.session.sessionId.toString();
      const subscription = await client.session.createSubscription2({
        requestedPublishingInterval: 50,
        requestedMaxKeepAliveCount: 20,
        publishingEnabled: true,
      });
      await publish(gw.brokerUrl, [{ topic: T5, payload: "230" }]);
      await waitFor("a good value", async () =>
        (await client.read(nodeOf(T5))).statusCode.equals(StatusCodes.Good),
      );
      const item: ClientMonitoredItem = await subscription.monitor(
        { nodeId: nodeOf(T5), attributeId: AttributeIds.Value },
        { samplingInterval: 0, queueSize: 10 },
        TimestampsToReturn.Both,
      );
      const seen: DataValue[] = [];
      item.on("changed", (dv: DataValue) => seen.push(dv));

      // Nothing goes stale with the default stale time (0: never).
      await new Promise((r) => setTimeout(r, 1200));
      expect((await client.read(nodeOf(T5))).statusCode).toBe(StatusCodes.Good);

      const file = join(dir, "stale.yaml");
      writeFileSync(file, testConfig("mapping: { staleAfter: { default: 1 } }\n"));
      const plan = reloadConfig(gw.gateway, checkSetup(file, testEnv("")), getLogger("gateway"), file);
      expect(plan).toMatchObject({ applied: ["mapping.staleAfter.default"], needsRestart: [] });

      // The point has had no update for over a second: within the sweep it turns stale, and the
      // client's existing subscription is told so.
      await waitFor("UncertainLastUsableValue by subscription", () =>
        seen.some((dv) => dv.statusCode.equals(StatusCodes.UncertainLastUsableValue)),
      );
      const dv = await client.read(nodeOf(T5));
      expect(dv.statusCode).toBe(StatusCodes.UncertainLastUsableValue);
      expect(dv.value.value).toBe(230);
      expect(client.session.sessionId.toString()).toBe(sessionId);
      expect(gw.gateway.config.mapping.staleAfter.default).toBe(1);
      // A value arriving after the reload is good again, then goes stale by the new time.
      await publish(gw.brokerUrl, [{ topic: T5, payload: "231" }]);
      await waitFor("good again", async () =>
        (await client.read(nodeOf(T5))).statusCode.equals(StatusCodes.Good),
      );
      await waitFor("stale again", async () =>
        (await client.read(nodeOf(T5))).statusCode.equals(StatusCodes.UncertainLastUsableValue),
      );

      // Back to 0 (never stale): the point shows its value's own status again without waiting for
      // the next value; a retained point may never send one (issue 16).
      writeFileSync(file, testConfig(""));
      expect(
        reloadConfig(gw.gateway, checkSetup(file, testEnv("")), getLogger("gateway"), file),
      ).toMatchObject({
        applied: ["mapping.staleAfter.default"],
      });
      const back = await client.read(nodeOf(T5));
      expect(back.statusCode).toBe(StatusCodes.Good);
      expect(back.value.value).toBe(231);
      await waitFor("Good by subscription", () => seen.at(-1)?.statusCode.equals(StatusCodes.Good) ?? false);
    } finally {
      await client.stop();
      await gw.stop();
    }
  });

  it("creates a newly declared device with all its points", async () => {
    const gw = await startGateway();
    const client = await connectClient(gw.endpointUrl);
    try {
      const file = join(dir, "devices.yaml");
      writeFileSync(file, testConfig("devices: [{ type: 3WA, name: Feeder 09, source: ETU }]\n"));
      reloadConfig(gw.gateway, checkSetup(file, testEnv("")), getLogger("gateway"), file);
      const dv = await client.read(nodeOf("11/5/3WA/Feeder 09/ETU"));
      expect(dv.statusCode).toBe(StatusCodes.BadWaitingForInitialData);
      expect(gw.gateway.ingest?.pointCount).toBe(gw.gateway.catalog.points.length);
    } finally {
      await client.stop();
      await gw.stop();
    }
  });
});

// A gateway process starts in a few seconds on an idle machine, in 45 s on a loaded one, and a
// reload reads the catalogs again: the bounds are for a hang, not a speed.
describe("signals to smartgear-gateway run (SIGHUP, SIGTERM)", { timeout: 150_000 }, () => {
  const STARTED_MS = 90_000;
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  });

  /** Runs the CLI on `file`; its JSON log lines, and a wait for one of them. */
  const startCli = (file: string) => {
    const proc = spawn(process.execPath, compiled("src/cli.ts", "run", "--config", file), {
      cwd: PROJECT_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SMARTGEAR_"))),
        // Its own store, not the working copy's data/history, which another test's gateway may hold.
        SMARTGEAR_HISTORY_FOLDER: join(dir, `history-${basename(file)}`),
      },
    });
    children.push(proc);
    const lines: Record<string, unknown>[] = [];
    let buffered = "";
    proc.stdout?.on("data", (d) => {
      buffered += String(d);
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const p of parts) {
        try {
          lines.push(JSON.parse(p) as Record<string, unknown>);
        } catch {
          // Not a log line (a stray console write): not what this test reads.
        }
      }
    });
    // The exit code and the signal: a process a signal ended has no code.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      proc.once("exit", (code, signal) => r({ code, signal })),
    );
    const line = (message: string | RegExp) =>
      waitFor(
        `log line ${message}`,
        () =>
          lines.find((l) =>
            typeof message === "string" ? l.message === message : message.test(String(l.message)),
          ),
        STARTED_MS,
      );
    return { proc, exited, line };
  };

  it("reloads the file, applies the log level and names what needs a restart in one line", async () => {
    const file = join(dir, "run.yaml");
    writeFileSync(file, testConfig("log: { level: info, format: json }\n"));
    const { proc, exited, line } = startCli(file);
    await line("gateway started");

    // An invalid file is refused whole.
    writeFileSync(file, testConfig("log: { level: loud, format: json }\n"));
    proc.kill("SIGHUP");
    const refused = await line("configuration reload refused: the running configuration stays");
    expect(refused.problems).toEqual([
      `${file}:4: log.level: must be equal to one of the allowed values: error, warn, info, debug`,
    ]);

    writeFileSync(
      file,
      testConfig('log: { level: info, format: json, levels: { "gateway:mqttToOpcua": debug } }\n').replace(
        "broker: { port: 0 }",
        "broker: { port: 0, host: 127.0.0.2 }",
      ),
    );
    proc.kill("SIGHUP");
    const reloaded = await line("configuration reloaded");
    expect(reloaded.applied).toEqual(["log.levels"]);
    const restart = await line(/^needs a restart/);
    expect(restart.message).toBe("needs a restart: broker.host");
    expect(restart.level).toBe("warn");

    proc.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
  });

  it("holds a SIGHUP that arrives during start-up and applies it once started", async () => {
    const file = join(dir, "run-early.yaml");
    writeFileSync(file, testConfig("log: { level: info, format: json }\n"));
    const { proc, exited, line } = startCli(file);
    // Before the address space and the broker exist: without a handler, Node ends the process.
    await line("configuration loaded");
    proc.kill("SIGHUP");
    await line("reload requested during start-up: applied once started");
    await line("gateway started");
    await line("configuration reloaded");
    expect(proc.exitCode).toBeNull();

    proc.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
  });

  it("holds a SIGTERM that arrives during start-up and stops cleanly once started", async () => {
    const file = join(dir, "run-stopped-early.yaml");
    writeFileSync(file, testConfig("log: { level: info, format: json }\n"));
    const { proc, exited, line } = startCli(file);
    // `docker stop` of a container still starting: without a handler, Node ends the process unflushed.
    await line("configuration loaded");
    proc.kill("SIGTERM");
    await line("stop requested during start-up: stopping once started");
    await line("gateway started");
    expect((await line("shutting down")).signal).toBe("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
