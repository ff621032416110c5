import { X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import {
  type CallMethodResult,
  MessageSecurityMode,
  OPCUACertificateManager,
  SecurityPolicy,
  StatusCodes,
} from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/security/password-hash.js";
import { PkiStore } from "../../src/security/pki-store.js";
import { publish } from "../harness/brokers.js";
import { runCli } from "../harness/cli.js";
import { startGateway } from "../harness/gateway.js";
import { type ClientOptions, connectClient, nodeOf, type TestClient } from "../harness/opcua-client.js";
import { makeOpcuaCa } from "../harness/pki.js";
import { waitFor } from "../harness/wait.js";

const ETU = "11/5/3WA/Feeder 01/ETU";
const ENERGY = "Devices/3WA/Feeder 01/ETU/PowerQuality/Energy";
const SCADA_USER = { userName: "scada", password: "scada-pw" };

type Issued = { cert: string; key: string };
/** The application certificate a client presents, with the applicationUri its subjectAltName carries. */
const application = (issued: Issued, applicationUri: string) => ({
  certificateFile: issued.cert,
  privateKeyFile: issued.key,
  applicationUri,
});
const der = (certFile: string) => new X509Certificate(readFileSync(certFile)).raw;
/** An X.509 user identity: the certificate and the key that proves its possession. */
const userIdentity = (issued: Issued) => ({
  certificateData: der(issued.cert),
  privateKey: readFileSync(issued.key, "utf8"),
});

/** The message a refused connection ends with (a connection that is accepted fails the test). */
async function refusal(connecting: Promise<TestClient>): Promise<string> {
  const outcome = await connecting.catch((err: Error) => err);
  if (outcome instanceof Error) return outcome.message;
  await outcome.stop();
  throw new Error("the connection was accepted");
}

/**
 * The verdict of a PKI store on a certificate, by the call node-opcua's server makes
 * (checkCertificate). On the wire the server answers an OpenSecureChannel with a revoked or
 * untrusted certificate BadSecurityChecksFailed, and an ActivateSession with any bad user
 * certificate BadIdentityTokenRejected: the reason is read here.
 */
async function verdict(pkiFolder: string, certFile: string): Promise<string> {
  const cm = new OPCUACertificateManager({ rootFolder: pkiFolder, disableFileWatchers: true });
  await cm.initialize();
  try {
    return (await cm.checkCertificate(der(certFile))).name;
  } finally {
    await cm.dispose();
  }
}

// Issuing is asynchronous (WebCrypto): done once at the top of the module, before the suite is collected.
const dir = mkdtempSync(join(tmpdir(), "smartgear-opcua-pki-"));
const ca = await makeOpcuaCa(dir, "ca", "Sm@rtGear Test OPC UA CA");
const otherCa = await makeOpcuaCa(dir, "other-ca", "Some Other CA");
const scada = application(
  await ca.issue("scada", { cn: "SCADA client", applicationUri: "urn:smartgear-test:scada" }),
  "urn:smartgear-test:scada",
);
const retired = application(
  await ca.issue("retired", { cn: "Retired client", applicationUri: "urn:smartgear-test:retired" }),
  "urn:smartgear-test:retired",
);
const stranger = application(
  await otherCa.issue("stranger", { cn: "Stranger client", applicationUri: "urn:smartgear-test:stranger" }),
  "urn:smartgear-test:stranger",
);
// User certificates: the CN is the user name of the users file.
const plc = await ca.issue("plc-line-2", { cn: "plc-line-2" });
const hmi = await ca.issue("hmi-panel-7", { cn: "hmi-panel-7" });
const lostPlc = await ca.issue("plc-line-3", { cn: "plc-line-3" });
const forgedPlc = await otherCa.issue("plc-line-2-forged", { cn: "plc-line-2" });

describe("OPC UA certificates issued by a CA (application and user certificates)", () => {
  const serverPki = join(dir, "server-pki");
  const usersPki = join(serverPki, "users");
  const configFile = join(dir, "gateway.yaml");
  const usersFile = join(dir, "users.yaml");
  // The test client's own PKI, where it trusts the gateway's certificate; it presents a CA-issued one.
  const clientPki = join(dir, "client-pki");

  let gw: Awaited<ReturnType<typeof startGateway>>;
  let device: mqtt.MqttClient;
  const connect = (options: ClientOptions) =>
    connectClient(gw.endpointUrl, {
      securityMode: MessageSecurityMode.SignAndEncrypt,
      securityPolicy: SecurityPolicy.Basic256Sha256,
      pkiFolder: clientPki,
      ...options,
    });
  const pki = async (...args: string[]) => {
    const out = await runCli(["pki", ...args, "--config", configFile]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    return out.stdout;
  };
  const resetEnergyCounters = (client: TestClient) =>
    client.session.call({
      objectId: nodeOf(ENERGY),
      methodId: nodeOf(`${ENERGY}/ResetEnergyCounters`),
      inputArguments: [],
    }) as Promise<CallMethodResult>;

  beforeAll(async () => {
    writeFileSync(
      usersFile,
      "users:\n" +
        `  - { username: scada, passwordHash: "${hashPassword(SCADA_USER.password)}", roles: [Observer] }\n` +
        "  - { username: plc-line-2, roles: [Engineer] }\n" +
        "  - { username: hmi-panel-7, roles: [Observer] }\n" +
        "  - { username: plc-line-3, roles: [Engineer] }\n",
    );
    // The secure defaults: only the port, the PKI and the users file are set.
    const opcua = `opcua:\n  port: 0\n  pkiFolder: ${JSON.stringify(serverPki)}\n  usersFile: ${JSON.stringify(usersFile)}\n`;
    writeFileSync(configFile, opcua);
    gw = await startGateway(`${opcua}devices:\n  - { type: 3WA, name: Feeder 01, source: ETU }\n`);
    await publish(gw.brokerUrl, [{ topic: ETU, payload: "230.1" }]);
    // A device that answers every command: a call the gateway lets through then ends Good.
    device = await mqtt.connectAsync(gw.brokerUrl, { clientId: "feeder-01", reconnectPeriod: 0 });
    device.on("message", (_topic, payload) => {
      const body = JSON.parse(payload.toString()) as { replyTo?: string; correlationId?: string };
      if (body.replyTo)
        device.publish(body.replyTo, JSON.stringify({ correlationId: body.correlationId, status: "ok" }));
    });
    await device.subscribeAsync("cmd/+/+/+/+/+", { qos: 1 });
  });
  afterAll(async () => {
    await device?.endAsync();
    await gw?.stop();
  });

  it("refuses what a trusted CA issued until its CRL is installed, then accepts it over SignAndEncrypt", async () => {
    expect(await pki("trust", ca.cert)).toContain("CN=Sm@rtGear Test OPC UA CA");
    expect(await pki("trust", ca.cert, "--users")).toContain("CN=Sm@rtGear Test OPC UA CA");
    // node-opcua needs the CA's CRL to know that a certificate is not revoked.
    expect(await refusal(connect({ certificate: scada, user: SCADA_USER }))).toMatch(
      /BadCertificateRevocationUnknown/,
    );

    const firstCrl = await ca.crl();
    expect(await pki("crl", firstCrl)).toContain("CN=Sm@rtGear Test OPC UA CA  0 revoked");
    expect(await pki("crl", firstCrl, "--users")).toContain("0 revoked");
    const client = await waitFor("the CA-issued client accepted", () =>
      connect({ certificate: scada, user: SCADA_USER }),
    );
    expect((await client.read(nodeOf(ETU))).value.value).toBe(230.1);
    await client.stop();
    // Only the CA was trusted: the client's own certificate is in no list.
    expect(new PkiStore(serverPki).list().map((e) => `${e.list} ${e.subject}`)).toEqual([
      "trusted CN=Sm@rtGear Test OPC UA CA",
    ]);
  });

  it("refuses a revoked certificate once the CA's next CRL replaces the previous one, without a restart", async () => {
    const before = await connect({ certificate: retired, user: SCADA_USER });
    await before.stop();

    ca.revoke(retired.certificateFile);
    ca.revoke(lostPlc.cert);
    const nextCrl = await ca.crl();
    expect(await pki("crl", nextCrl)).toContain("2 revoked");
    expect(await pki("crl", nextCrl, "--users")).toContain("2 revoked");
    expect(readdirSync(join(serverPki, "trusted", "crl"))).toHaveLength(1);

    const refused = await waitFor("the revoked client refused", () =>
      refusal(connect({ certificate: retired, user: SCADA_USER })),
    );
    expect(refused).toMatch(/BadSecurityChecksFailed/);
    expect(await verdict(serverPki, retired.certificateFile)).toBe("BadCertificateRevoked");
    // Revoked is not unknown: the certificate is not filed for an operator to trust.
    expect(new PkiStore(serverPki).list().filter((e) => e.list === "rejected")).toEqual([]);
    // The CA's other certificates are still accepted.
    const client = await connect({ certificate: scada, user: SCADA_USER });
    await client.stop();
  });

  it("refuses a client whose certificate comes from a CA that is not trusted, and files it in rejected/", async () => {
    expect(await refusal(connect({ certificate: stranger, user: SCADA_USER }))).toMatch(
      /BadSecurityChecksFailed/,
    );
    expect(await verdict(serverPki, stranger.certificateFile)).toBe("BadCertificateChainIncomplete");
    const rejected = await waitFor("the stranger in rejected/", () =>
      new PkiStore(serverPki).list().filter((e) => e.list === "rejected"),
    );
    expect(rejected.map((e) => e.applicationUri)).toEqual(["urn:smartgear-test:stranger"]);
  });

  it("logs in a user by an X.509 user certificate whose CN is the user name, with that user's roles", async () => {
    const engineer = await connect({ certificate: scada, userCertificate: userIdentity(plc) });
    const observer = await connect({ certificate: scada, userCertificate: userIdentity(hmi) });
    try {
      expect((await engineer.read(nodeOf(ETU))).value.value).toBe(230.1);
      expect((await observer.read(nodeOf(ETU))).value.value).toBe(230.1);
      // ResetEnergyCounters needs Engineer: plc-line-2 has it, hmi-panel-7 (Observer) does not.
      expect((await resetEnergyCounters(engineer)).statusCode).toEqual(StatusCodes.Good);
      expect((await resetEnergyCounters(observer)).statusCode).toEqual(StatusCodes.BadUserAccessDenied);
    } finally {
      await engineer.stop();
      await observer.stop();
    }
  });

  it("refuses a revoked user certificate and one from a CA the users' PKI does not trust", async () => {
    const lost = await waitFor("the revoked user certificate refused", () =>
      refusal(connect({ certificate: scada, userCertificate: userIdentity(lostPlc) })),
    );
    expect(lost).toMatch(/BadIdentityTokenRejected/);
    expect(await verdict(usersPki, lostPlc.cert)).toBe("BadCertificateRevoked");
    // The same CN as an Engineer, from another CA: the CN alone opens nothing.
    expect(await refusal(connect({ certificate: scada, userCertificate: userIdentity(forgedPlc) }))).toMatch(
      /BadIdentityTokenRejected/,
    );
    expect(await verdict(usersPki, forgedPlc.cert)).toBe("BadCertificateChainIncomplete");
    expect(new PkiStore(usersPki).list().map((e) => `${e.list} ${e.subject}`)).toEqual([
      "trusted CN=Sm@rtGear Test OPC UA CA",
      "rejected CN=plc-line-2",
    ]);
  });
});
