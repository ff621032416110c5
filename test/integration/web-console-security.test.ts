import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConfig } from "../../src/config/config-loader.js";
import { consoleRefusal } from "../../src/http/console.js";
import { hashPassword } from "../../src/security/password-hash.js";
import { PkiStore } from "../../src/security/pki-store.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";
import { startGateway } from "../harness/gateway.js";
import { makeTestPki } from "../harness/pki.js";

const PASSWORD = "engineer-pw";

/** A POST of a login form as a browser on `origin` sends it. */
const login = (url: string, password: string, origin = url) =>
  fetch(`${url}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: { origin, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: "erika", password }).toString(),
  });

/** An HTTPS GET or POST that accepts any server certificate and hands back the one it got. */
function httpsRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; certificate: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: options.method ?? "GET", headers: options.headers, rejectUnauthorized: false },
      (res) => {
        const certificate = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().raw;
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, certificate }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("the web console's security", () => {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-console-security-"));
  const usersFile = join(dir, "users.yaml");
  const opcua = `opcua:\n  port: 0\n  pkiFolder: ${JSON.stringify(join(dir, "pki"))}\n  usersFile: ${JSON.stringify(usersFile)}\n`;
  let gw: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    writeFileSync(
      usersFile,
      `users:\n  - { username: erika, passwordHash: "${hashPassword(PASSWORD)}", roles: [Engineer] }\n`,
    );
    gw = await startGateway(`${opcua}http: { port: 0, console: { loginAttemptsPerMinute: 3 } }\n`);
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sets an HttpOnly, SameSite=Strict session cookie at login, and refuses a login posted from another site", async () => {
    const ok = await login(gw.httpUrl, PASSWORD);
    expect(ok.status).toBe(303);
    expect(ok.headers.get("set-cookie")).toMatch(
      /^smartgear_console=[\w-]{43}; Path=\/console; HttpOnly; SameSite=Strict$/,
    );
    const page = await fetch(`${gw.httpUrl}/console/overview`, {
      headers: { cookie: ok.headers.get("set-cookie")!.split(";")[0]! },
    });
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    // The password hash is a secret: no page shows it.
    expect(await page.text()).not.toContain("scrypt$");

    const forged = await login(gw.httpUrl, PASSWORD, "http://evil.example");
    expect(forged.status).toBe(403);
    expect(forged.headers.get("set-cookie")).toBeNull();
  });

  it("takes only a thumbprint from a form (never a file path, as `pki trust` would), and no form over 8 KB", async () => {
    const ok = await login(gw.httpUrl, PASSWORD);
    const cookie = ok.headers.get("set-cookie")!.split(";")[0]!;
    const page = await (await fetch(`${gw.httpUrl}/console/certificates`, { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const post = (body: string) =>
      fetch(`${gw.httpUrl}/console/certificates/trust`, {
        method: "POST",
        headers: { cookie, origin: gw.httpUrl, "content-type": "application/x-www-form-urlencoded" },
        body,
      });
    // A certificate file that exists: `pki trust <file>` would trust whatever it holds.
    const file = join(dir, "pki", "own", "certs", "certificate.pem");
    const byPath = await post(
      new URLSearchParams({ csrf, kind: "applications", thumbprint: file }).toString(),
    );
    expect(byPath.status).toBe(400);
    expect(new PkiStore(join(dir, "pki")).list().filter((e) => e.list === "trusted")).toEqual([]);
    const unknown = await post(
      new URLSearchParams({ csrf, kind: "applications", thumbprint: "abcdef" }).toString(),
    );
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("no rejected certificate with thumbprint abcdef");
    expect((await post(`csrf=${csrf}&kind=applications&thumbprint=${"a".repeat(9000)}`)).status).toBe(413);
  });

  it("answers 429 after loginAttemptsPerMinute failed logins from one address, even to the right password, and counts both", async () => {
    for (let i = 0; i < 3; i++) expect((await login(gw.httpUrl, "wrong")).status).toBe(401);
    const limited = await login(gw.httpUrl, "wrong");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect((await login(gw.httpUrl, PASSWORD)).status).toBe(429);
    const metrics = await (await fetch(`${gw.httpUrl}/metrics`)).text();
    expect(metrics).toContain('smartgear_console_logins_total{outcome="refused"} 3');
    expect(metrics).toContain('smartgear_console_logins_total{outcome="rateLimited"} 2');
  });

  it("serves the listener over HTTPS with the OPC UA server's own certificate, and marks the cookie Secure", async () => {
    const secure = await startGateway(`${opcua}http: { port: 0, console: { tls: { enabled: true } } }\n`);
    try {
      const url = `https://127.0.0.1:${secure.gateway.httpPort}`;
      const own = new X509Certificate(readFileSync(join(dir, "pki", "own", "certs", "certificate.pem"))).raw;
      const health = await httpsRequest(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(health.certificate.equals(own)).toBe(true);
      const ok = await httpsRequest(`${url}/console/login`, {
        method: "POST",
        headers: { origin: url, "content-type": "application/x-www-form-urlencoded" },
        body: `username=erika&password=${PASSWORD}`,
      });
      expect(ok.status).toBe(303);
      expect(String(ok.headers["set-cookie"])).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await secure.stop();
    }
  });

  it("serves HTTPS with the certificate and key files of http.console.tls when they are named", async () => {
    const pki = await makeTestPki();
    const secure = await startGateway(
      `${opcua}http: { port: 0, console: { tls: { enabled: true, certFile: ${JSON.stringify(pki.serverCert)}, keyFile: ${JSON.stringify(pki.serverKey)} } } }\n`,
    );
    try {
      const health = await httpsRequest(`https://127.0.0.1:${secure.gateway.httpPort}/healthz`);
      expect(health.status).toBe(200);
      expect(health.certificate.equals(new X509Certificate(readFileSync(pki.serverCert)).raw)).toBe(true);
    } finally {
      await secure.stop();
      pki.stop();
    }
  });

  it("is not served on a non-loopback address without TLS unless http.console.allowPlainHttp says so", () => {
    const http = (yaml: string) => buildConfig(parseYamlText(yaml, "test.yaml"), {}).config!.http;
    expect(consoleRefusal(http("http: { host: 127.0.0.1 }"))).toBeNull();
    expect(consoleRefusal(http("http: { host: 0.0.0.0 }"))).toMatch(
      /http.host 0.0.0.0 is not loopback and http.console.tls.enabled is false/,
    );
    expect(consoleRefusal(http("http: { host: 0.0.0.0, console: { tls: { enabled: true } } }"))).toBeNull();
    expect(consoleRefusal(http("http: { host: 0.0.0.0, console: { allowPlainHttp: true } }"))).toBeNull();
  });
});
