import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageSecurityMode, SecurityPolicy } from "node-opcua";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/security/password-hash.js";
import { PROJECT_ROOT } from "../../src/shared/paths.js";
import { publish } from "../harness/brokers.js";
import { compiled } from "../harness/compiled.js";
import { startGateway } from "../harness/gateway.js";
import { connectClient, nodeOf } from "../harness/opcua-client.js";
import { needs, toolPath } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

const ENGINEER = { userName: "erika", password: "engineer-pw" };
const OBSERVER = { userName: "otto", password: "observer-pw" };
/**
 * Where the README's screenshots come from: each page as this test saw it. Written into docs/ only
 * when asked (GATEWAY_TEST_SCREENSHOTS=1), so that a test run leaves the working tree as it was.
 */
const SHOTS = process.env.GATEWAY_TEST_SCREENSHOTS
  ? join(PROJECT_ROOT, "docs", "console")
  : mkdtempSync(join(tmpdir(), "console-shots-"));
/** An alarm flag of the catalog (48/1 Phase1MaxTempAlarm, severity 800) on a group the simulator does not run. */
const ALARM_TOPIC = "48/1/50/Group 99/PM";
/** node-opcua notices a certificate leaving rejected/ only after its folder watcher saw it arrive. */
const WATCHER_SETTLE_MS = 1000;

/**
 * The web console in Debian's chromium (driven by playwright-core), against a real gateway with
 * its embedded broker and the simulator publishing a lineup: every page, a live value, the trust
 * flow from a refused OPC UA client to its session, a refused login, an Observer's 403 and a
 * change without its CSRF token.
 */
describe("the web console in a browser", needs("chromium"), () => {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-console-"));
  const serverPki = join(dir, "server-pki");
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let simulator: ChildProcess;
  let context: BrowserContext;
  let page: Page;

  const logIn = async (user: { userName: string; password: string }) => {
    await context.clearCookies();
    await page.goto(`${gw.httpUrl}/console`);
    await page.fill('input[name="username"]', user.userName);
    await page.fill('input[name="password"]', user.password);
    await page.click("form.login button");
  };
  /** A POST from the page itself (same origin, the session's cookie), with or without its CSRF token. */
  const postFromPage = async (path: string, fields: Record<string, string>, withCsrf: boolean) => {
    const csrf = withCsrf ? await page.locator('input[name="csrf"]').first().inputValue() : "";
    const body = new URLSearchParams({ ...fields, ...(withCsrf ? { csrf } : {}) }).toString();
    // Evaluated in the page (a string: the test's types know no DOM): the browser's own fetch.
    return page.evaluate<number>(
      `fetch(${JSON.stringify(path)}, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: ${JSON.stringify(body)} }).then((r) => r.status)`,
    );
  };

  beforeAll(async () => {
    const usersFile = join(dir, "users.yaml");
    writeFileSync(
      usersFile,
      "users:\n" +
        `  - { username: ${ENGINEER.userName}, passwordHash: "${hashPassword(ENGINEER.password)}", roles: [Engineer] }\n` +
        `  - { username: ${OBSERVER.userName}, passwordHash: "${hashPassword(OBSERVER.password)}", roles: [Observer] }\n`,
    );
    // The secure defaults: no anonymous access, signed and encrypted endpoints only.
    gw = await startGateway(
      `opcua:\n  port: 0\n  pkiFolder: ${JSON.stringify(serverPki)}\n  usersFile: ${JSON.stringify(usersFile)}\n`,
    );
    simulator = spawn(
      process.execPath,
      compiled("scripts/simulator/main.ts").concat([
        "--url",
        gw.brokerUrl,
        "--devices",
        "1",
        "--rate",
        "200",
        "--seed",
        "7",
      ]),
      { cwd: PROJECT_ROOT, stdio: "ignore" },
    );
    await waitFor("the simulator's lineup", () => gw.gateway.diagnostics().devices >= 2, 30_000, 100);
    mkdirSync(SHOTS, { recursive: true });
    context = await chromium.launchPersistentContext(join(dir, "browser"), {
      executablePath: toolPath("chromium"),
      headless: true,
      viewport: { width: 1280, height: 860 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Docker's /dev/shm is 64 MB: the renderer of a long table would run out of it.
        "--disable-dev-shm-usage",
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
  });
  afterAll(async () => {
    await context?.close();
    simulator?.kill("SIGTERM");
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a wrong password with a message, and counts it", async () => {
    await logIn({ userName: ENGINEER.userName, password: "not-the-password" });
    await expect(page.locator('[role="alert"]').textContent()).resolves.toContain(
      "Wrong user name or password",
    );
    expect(page.url()).toContain("/console/login");
    await page.screenshot({ path: join(SHOTS, "login.png") });
    const metrics = await (await fetch(`${gw.httpUrl}/metrics`)).text();
    expect(metrics).toContain('smartgear_console_logins_total{outcome="refused"} 1');
  });

  it("shows an Observer every page, but refuses a Trust from him (403)", async () => {
    await logIn(OBSERVER);
    await page.waitForURL(/\/console\/overview$/);
    for (const name of ["Devices", "Certificates", "Alarms", "Overview"]) {
      await page.click(`nav a:text-is("${name}")`);
      await expect(page.locator("h1").textContent()).resolves.toBe(name);
    }
    const cookie = (await context.cookies()).find((c) => c.name === "smartgear_console");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", secure: false });
    await page.goto(`${gw.httpUrl}/console/certificates`);
    expect(await page.locator("button.trust").count()).toBe(0);
    expect(
      await postFromPage("/console/certificates/trust", { kind: "applications", thumbprint: "abcdef" }, true),
    ).toBe(403);
  });

  it("refuses a change without its CSRF token, even from an Engineer", async () => {
    await logIn(ENGINEER);
    await page.waitForURL(/\/console\/overview$/);
    expect(
      await postFromPage(
        "/console/certificates/trust",
        { kind: "applications", thumbprint: "abcdef" },
        false,
      ),
    ).toBe(403);
  });

  it("shows the broker link, rates, devices, OPC UA sessions and the version on the Overview", async () => {
    await page.goto(`${gw.httpUrl}/console/overview`);
    const text = (await page.locator("main").textContent()) ?? "";
    expect(text).toContain(`mqtt://127.0.0.1:${gw.gateway.brokerPort} (embedded broker)`);
    expect(text).toMatch(/StateconnectedConnected since\d{4}-/);
    expect(text).toMatch(/Devices\d+Online\d+/);
    expect(text).toContain("Version0.1.0");
    await page.screenshot({ path: join(SHOTS, "overview.png"), fullPage: true });
  });

  it("shows a device's points as in OPC UA, with copyable NodeIds, and updates them live", async () => {
    await page.goto(`${gw.httpUrl}/console/devices`);
    await page.click('.tree a:text-is("ETU")');
    await page.waitForSelector("#points tbody tr");
    const voltage = page.locator(`tr[data-node-id="${nodeOf("11/5/3WA/Feeder 01/ETU")}"]`);
    await expect(voltage.locator("td").first().textContent()).resolves.toMatch(/\w/);
    await expect(voltage.locator("button.copy").getAttribute("data-copy")).resolves.toBe(
      nodeOf("11/5/3WA/Feeder 01/ETU"),
    );
    await page.locator("#live", { hasText: /^connected$/ }).waitFor();
    // Without a reload: some source timestamp in the table changes as the simulator publishes. Polled
    // from here: a predicate evaluated in the page would be eval, which the console's CSP forbids.
    const times = page.locator("#points td.time");
    const before = await times.allTextContents();
    await waitFor(
      "a live update of the table",
      async () => (await times.allTextContents()).some((t, i) => t !== before[i]),
      20_000,
      100,
    );
    await page.screenshot({ path: join(SHOTS, "devices.png") });
  });

  it("lists an active condition with its severity, time and acknowledgement state", async () => {
    await publish(gw.brokerUrl, [{ topic: ALARM_TOPIC, payload: "true" }]);
    await page.goto(`${gw.httpUrl}/console/alarms`);
    const row = page.locator("tbody tr", { hasText: "50/Group 99/PM" });
    await waitFor("the condition on the Alarms page", async () => {
      await page.reload();
      return (await row.count()) === 1;
    });
    const cells = await row.locator("td").allTextContents();
    expect(cells[0]).toBe("800");
    expect(cells[1]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(cells.slice(4, 6)).toEqual(["active", "no"]);
    await page.screenshot({ path: join(SHOTS, "alarms.png") });
  });

  it("trusts a refused OPC UA client with one click, and the client then opens a session", async () => {
    const clientPki = join(dir, "client-pki");
    const secure = {
      pkiFolder: clientPki,
      user: ENGINEER,
      securityMode: MessageSecurityMode.SignAndEncrypt,
      securityPolicy: SecurityPolicy.Basic256Sha256,
    };
    const refused = await connectClient(gw.endpointUrl, secure).then(
      (c) => c.stop().then(() => "accepted"),
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/BadSecurityChecksFailed|socket has been disconnected|closed/i);

    await page.goto(`${gw.httpUrl}/console/certificates`);
    const row = page.locator("tbody tr", { hasText: "NodeOPCUA-Client" }).filter({ hasText: "rejected" });
    await waitFor("the refused client on the Certificates page", async () => {
      await page.reload();
      return (await row.count()) === 1;
    });
    await new Promise((r) => setTimeout(r, WATCHER_SETTLE_MS));
    await row.locator("button.trust").click();
    await expect(page.locator('[role="status"]').textContent()).resolves.toMatch(/^Trusted /);
    await expect(
      page.locator("tbody tr", { hasText: "NodeOPCUA-Client" }).locator("td.list").textContent(),
    ).resolves.toBe("trusted");
    await page.screenshot({ path: join(SHOTS, "certificates.png"), fullPage: true });

    const client = await waitFor(
      "a session of the trusted client",
      () => connectClient(gw.endpointUrl, secure),
      20_000,
      500,
    );
    expect((await client.read("ns=0;i=2259")).statusCode.name).toBe("Good");
    await client.stop();
  });
});
