import { type ChildProcess, spawn } from "node:child_process";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { compiled } from "./compiled.js";
import { connectClient, type TestClient } from "./opcua-client.js";
import { waitFor } from "./wait.js";

/** Runs the CLI as a user would (a child process, compiled: compiled.ts), with optional standard input. */
export function runCli(
  args: string[],
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, compiled("src/cli.ts", ...args), {
      cwd: PROJECT_ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += String(d);
    });
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** The gateway as a user runs it, `smartgear-gateway run --config <file>` (compiled): a child process a test can kill -9. */
export function runGateway(configFile: string): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, compiled("src/cli.ts", "run", "--config", configFile), {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += String(d);
  });
  child.stderr?.on("data", (d) => {
    out += String(d);
  });
  return Object.assign(child, { output: () => out });
}

/**
 * runGateway, then an anonymous client session on `endpoint` once the gateway answers there. The
 * process (killed with SIGKILL if still running) and the session are handed to `defer` for the end.
 */
export async function startGatewayProcess(
  configFile: string,
  endpoint: string,
  defer: (undo: () => Promise<void>) => void,
  /** A first start makes the server's certificate: slow on a loaded machine. */
  timeoutMs = 30_000,
): Promise<{ child: ReturnType<typeof runGateway>; client: TestClient }> {
  const child = runGateway(configFile);
  defer(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  });
  const client = await waitFor(
    "the gateway's OPC UA endpoint",
    async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${child.output()}`);
      return await connectClient(endpoint);
    },
    timeoutMs,
    250,
  );
  defer(() => client.stop().catch(() => {}));
  return { child, client };
}
