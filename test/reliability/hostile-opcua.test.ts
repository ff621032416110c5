import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { freePort } from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { compiled } from "../harness/compiled.js";
import { anonymousOpcua, startGateway, TEST_PKI } from "../harness/gateway.js";
import { connectClient } from "../harness/opcua-client.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { connectRaw, readReply } from "../harness/uacp.js";
import { waitFor } from "../harness/wait.js";

/**
 * Issue 15, item 1 and 5: the OPC UA endpoint attacked from raw sockets on loopback, before any
 * certificate or login. Fifty connections that announce 0xFFFFFFFF buffers and chunks, then send
 * one OpenSecureChannel chunk announced at 1 GiB, or intermediate chunks of 79 bytes without end,
 * before or after opening a None channel, and reconnect whenever the gateway closes them. The
 * gateway runs as a child process, as a user runs it, so that its RSS is its own.
 *
 * In the suite the attack lasts 10 s; HOSTILE_OPCUA_SECONDS=180 runs the 3 minutes.
 */

const SECONDS = Number(process.env.HOSTILE_OPCUA_SECONDS ?? 10);
const CONNECTIONS = 50;

/** The gateway's resident set, from /proc (bytes). */
const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;

/** A TypeScript file of the project run in a child process; its output kept. */
function runTs(file: string, args: string[]): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, compiled(file, ...args), {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (d: Buffer) => {
    out += String(d);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return Object.assign(child, { output: () => out });
}

/** What a node-opcua client sends to open a None channel: an OPN a raw attacker can replay (None has no nonce to check). */
async function captureNoneOpn(endpointUrl: string): Promise<Buffer> {
  const proxy = await startTcpProxy(Number(new URL(endpointUrl).port));
  let opn: Buffer | null = null;
  proxy.onUpstream((data) => {
    if (!opn && data.toString("ascii", 0, 4) === "OPNF") opn = Buffer.from(data);
    return data;
  });
  const client = await connectClient(proxy.url("opc.tcp"));
  await client.stop();
  await proxy.stop();
  if (!opn) throw new Error("no OPN seen");
  return opn;
}

/** connect, session, read: the legitimate client's round trip (ms). */
async function legitimateRead(endpointUrl: string): Promise<number> {
  const t0 = performance.now();
  const client = await connectClient(endpointUrl);
  try {
    const dv = await client.read("i=2259");
    if (dv.value.value !== 0) throw new Error(`server state ${dv.value.value}`);
  } finally {
    await client.stop();
  }
  return performance.now() - t0;
}

describe("reliability: hostile OPC UA peers before authentication (issue 15)", () => {
  const { defer } = useCleanups();

  it.each([
    ["None offered", "[None, Basic256Sha256]"],
    ["None not offered", "[Basic256Sha256]"],
  ])(
    `50 connections attacking for ${SECONDS} s: RSS bounded, no crash, a legitimate client served (%s)`,
    async (_name, policies) => {
      const dir = mkdtempSync(join(tmpdir(), "smartgear-hostile-opcua-"));
      defer(async () => rmSync(dir, { recursive: true, force: true }));
      const port = await freePort();
      const config = join(dir, "gateway.yaml");
      // The legitimate client reads over None; without None it is refused there, so the
      // attackers' None channel is tried (and refused) too, and a secured client is not needed to measure.
      writeFileSync(
        config,
        [
          `opcua: { port: ${port}, pkiFolder: ${JSON.stringify(TEST_PKI)}, allowAnonymous: true, securityPolicies: ${policies} }`,
          "broker: { port: 0 }",
          "http: { enabled: false }",
          // Its own store, not the working copy's data/history, which another test's gateway may hold.
          `history: { folder: ${JSON.stringify(join(dir, "history"))} }`,
          "log: { format: json }",
        ].join("\n"),
      );
      const gw = runTs("src/cli.ts", ["run", "--config", config]);
      defer(async () => {
        gw.kill("SIGKILL");
      });
      const endpointUrl = `opc.tcp://127.0.0.1:${port}/UA/SmartGear`;
      const withNone = policies.includes("None");
      await waitFor(
        "the gateway's endpoint",
        () => connectRaw(endpointUrl).then((s) => s.destroy() ?? true),
        60_000,
        200,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${gw.output()}`);
      });
      const opn = withNone ? await captureNoneOpn(endpointUrl) : Buffer.alloc(0);
      const quiet: number[] = [];
      if (withNone) for (let i = 0; i < 3; i++) quiet.push(await legitimateRead(endpointUrl));
      const before = rssOf(gw.pid!);
      const linesBefore = gw.output().split("\n").length;

      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssOf(gw.pid!));
      }, 250);
      defer(async () => clearInterval(sampler));
      const attackers = runTs("test/harness/hostile-opcua-attacker.ts", [
        endpointUrl,
        String(CONNECTIONS),
        String(SECONDS),
        withNone ? "bigChunk,endlessChunks,endlessOnNoneChannel" : "bigChunk,endlessChunks",
        opn.toString("hex"),
      ]);
      const attackersDone = new Promise<number>((resolve) =>
        attackers.once("close", () =>
          // Its last line is the count; node-opcua may print a warning of its own after it.
          resolve(
            Number(
              attackers
                .output()
                .split("\n")
                .filter((l) => /^\d+$/.test(l))
                .at(-1),
            ),
          ),
        ),
      );
      const started = Date.now();
      // Half-way, and again near the end, a legitimate client connects, creates a session and reads.
      const underAttack: number[] = [];
      if (withNone)
        for (const at of [0.5, 0.85]) {
          await new Promise((r) => setTimeout(r, Math.max(0, started + SECONDS * 1000 * at - Date.now())));
          underAttack.push(await legitimateRead(endpointUrl));
        }
      const connections = await attackersDone;
      clearInterval(sampler);
      await new Promise((r) => setTimeout(r, 2000));
      const after = rssOf(gw.pid!);
      const lines = gw.output().split("\n").slice(linesBefore).filter(Boolean);
      const plain = lines.filter((l) => !l.startsWith("{"));
      const MB = 2 ** 20;
      console.info(
        `[reliability] hostile OPC UA (${policies}): ${connections} connections in ${SECONDS} s; gateway RSS ` +
          `${(before / MB).toFixed(0)} MB before, peak ${(peak / MB).toFixed(0)} MB (+${((peak - before) / MB).toFixed(0)}), ` +
          `${(after / MB).toFixed(0)} MB after; legitimate connect-session-read quiet ${quiet.map((t) => t.toFixed(0)).join("/")} ms, ` +
          `under attack ${underAttack.map((t) => t.toFixed(0)).join("/")} ms; ${lines.length} log lines (${plain.length} not JSON)`,
      );
      expect(gw.exitCode).toBeNull();
      expect(connections).toBeGreaterThan(CONNECTIONS);
      expect(peak - before).toBeLessThan(150 * MB);
      expect(plain).toEqual([]);
      expect(lines.length).toBeLessThan(200);
      if (withNone) {
        const q = Math.max(...quiet);
        // The target is 2 × the quiet time; two loaded cores shared with the attackers get 1 s more.
        for (const t of underAttack) expect(t).toBeLessThan(2 * q + 1000);
      }
    },
    (SECONDS + 60) * 1000,
  );
});

describe("node-opcua's lines under a connection flood (issue 15, item 5)", () => {
  const { track } = useCleanups();

  it("refuses connections beyond maxConnectionsPerEndpoint without a console.log line in the JSON log", async () => {
    const gw = track(await startGateway(anonymousOpcua("limits: { maxConnectionsPerEndpoint: 2 }")));
    const printed: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      printed.push(args.join(" "));
    });
    try {
      // Both slots hold sessions, so node-opcua has no channel to close for a newcomer and refuses it.
      const sessions = [
        track(await connectClient(gw.endpointUrl)),
        track(await connectClient(gw.endpointUrl)),
      ];
      const refused = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const s = await connectRaw(gw.endpointUrl);
          const closed = await readReply(s).catch(() => null);
          s.destroy();
          return closed?.type;
        }),
      );
      expect(refused).toEqual(Array(5).fill("closed"));
      expect((await sessions[0]!.read("i=2259")).value.value).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(printed.filter((l) => /maximum number of connection/.test(l))).toEqual([]);
  });
});
