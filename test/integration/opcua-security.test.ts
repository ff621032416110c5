import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageSecurityMode, OPCUAClient, SecurityPolicy } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { hashPassword } from "../../src/security/password-hash.js";
import { PkiStore } from "../../src/security/pki-store.js";
import { getLogger } from "../../src/shared/logger.js";
import { publish } from "../harness/brokers.js";
import { runCli } from "../harness/cli.js";
import { startGateway } from "../harness/gateway.js";
import {
  clientCertificateFile,
  connectClient,
  nodeOf,
  testCertificateManager,
} from "../harness/opcua-client.js";
import { waitFor } from "../harness/wait.js";

const SECURE = {
  securityMode: MessageSecurityMode.SignAndEncrypt,
  securityPolicy: SecurityPolicy.Basic256Sha256,
};

describe("OPC UA security with the default settings", () => {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-security-"));
  const serverPki = join(dir, "server-pki");
  const clientPki = join(dir, "client-pki");
  const usersFile = join(dir, "users.yaml");
  const configFile = join(dir, "gateway.yaml");
  let gw: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    writeFileSync(
      usersFile,
      `users:\n  - { username: olivia, passwordHash: "${hashPassword("observer-pw")}", roles: [Observer] }\n` +
        `  - { username: otto, passwordHash: "${hashPassword("operator-pw")}", roles: [Operator] }\n`,
    );
    // The opcua section as a user leaves it: only the port, the PKI and the users file are set.
    const opcua = `opcua:\n  port: 0\n  pkiFolder: ${JSON.stringify(serverPki)}\n  usersFile: ${JSON.stringify(usersFile)}\n`;
    writeFileSync(configFile, opcua);
    gw = await startGateway(opcua);
    await publish(gw.brokerUrl, [{ topic: "11/5/3WA/Feeder 01/ETU", payload: "230.1" }]);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it("offers only Sign and SignAndEncrypt with current policies, never None or deprecated ones", async () => {
    const client = OPCUAClient.create({
      endpointMustExist: false,
      connectionStrategy: { maxRetry: 0 },
      clientCertificateManager: testCertificateManager(),
    });
    await client.connect(gw.endpointUrl);
    const endpoints = await client.getEndpoints();
    await client.disconnect();
    const offered = new Set(
      endpoints.map((e) => `${MessageSecurityMode[e.securityMode]} ${e.securityPolicyUri?.split("#")[1]}`),
    );
    expect([...offered].sort()).toEqual(
      [
        "Sign Aes128_Sha256_RsaOaep",
        "Sign Aes256_Sha256_RsaPss",
        "Sign Basic256Sha256",
        "SignAndEncrypt Aes128_Sha256_RsaOaep",
        "SignAndEncrypt Aes256_Sha256_RsaPss",
        "SignAndEncrypt Basic256Sha256",
      ].sort(),
    );
    await expect(connectClient(gw.endpointUrl)).rejects.toThrow();
  });

  it("rejects an unknown client certificate into rejected/, and accepts it after `pki trust`, without a restart", async () => {
    const warned = vi.spyOn(getLogger("gateway:opcua"), "warn");
    onTestFinished(() => warned.mockRestore());
    await expect(connectClient(gw.endpointUrl, { ...SECURE, pkiFolder: clientPki })).rejects.toThrow();
    const store = new PkiStore(serverPki);
    const rejected = await waitFor("the certificate in rejected/", () =>
      store.list().filter((e) => e.list === "rejected"),
    );
    expect(rejected).toHaveLength(1);
    // One line of ours says who was refused and the exact command that trusts it.
    const refusals = warned.mock.calls.filter(([message]) => String(message).startsWith("refused a client"));
    expect(refusals).toEqual([
      [
        `refused a client certificate that is not trusted; to trust it: smartgear-gateway pki trust ${rejected[0]!.thumbprint}`,
        {
          subject: rejected[0]!.subject,
          applicationUri: rejected[0]!.applicationUri,
          thumbprint: rejected[0]!.thumbprint,
          status: "BadCertificateUntrusted",
          trust: `smartgear-gateway pki trust ${rejected[0]!.thumbprint}`,
        },
      ],
    ]);

    const listed = await runCli(["pki", "list", "--config", configFile]);
    expect(listed.stdout).toContain(rejected[0]!.thumbprint);
    const trusted = await runCli([
      "pki",
      "trust",
      rejected[0]!.thumbprint.slice(0, 12),
      "--config",
      configFile,
    ]);
    expect(trusted.code).toBe(0);
    expect(readdirSync(join(serverPki, "trusted", "certs"))).toHaveLength(1);

    const client = await waitFor("a trusted connection", () =>
      connectClient(gw.endpointUrl, {
        ...SECURE,
        pkiFolder: clientPki,
        user: { userName: "olivia", password: "observer-pw" },
      }),
    );
    expect((await client.read(nodeOf("11/5/3WA/Feeder 01/ETU"))).value.value).toBe(230.1);
    await client.stop();
    expect(existsSync(clientCertificateFile(clientPki))).toBe(true);
  });

  it("refuses anonymous sessions", async () => {
    await expect(connectClient(gw.endpointUrl, { ...SECURE, pkiFolder: clientPki })).rejects.toThrow(
      /BadIdentityTokenInvalid|BadIdentityTokenRejected|anonymous/i,
    );
  });

  it("refuses a wrong and an empty password with BadUserAccessDenied", async () => {
    for (const password of ["wrong", ""])
      await expect(
        connectClient(gw.endpointUrl, {
          ...SECURE,
          pkiFolder: clientPki,
          user: { userName: "olivia", password },
        }),
      ).rejects.toThrow(/BadUserAccessDenied/);
    await expect(
      connectClient(gw.endpointUrl, {
        ...SECURE,
        pkiFolder: clientPki,
        user: { userName: "nobody", password: "x" },
      }),
    ).rejects.toThrow(/BadUserAccessDenied/);
  });

  it("withdraws trust with `pki reject`", async () => {
    const store = new PkiStore(serverPki);
    const [entry] = store.list().filter((e) => e.list === "trusted");
    const out = await runCli(["pki", "reject", entry!.thumbprint, "--config", configFile]);
    expect(out.code).toBe(0);
    await waitFor("refused again", async () => {
      try {
        const c = await connectClient(gw.endpointUrl, {
          ...SECURE,
          pkiFolder: clientPki,
          user: { userName: "otto", password: "operator-pw" },
        });
        await c.stop();
        return false;
      } catch {
        return true;
      }
    });
  });
});
