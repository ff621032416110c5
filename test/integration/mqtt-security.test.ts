import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import mqtt, { type IClientOptions } from "mqtt";
import { StatusCodes } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/security/password-hash.js";
import {
  freePort,
  mosquittoPasswordFile,
  publish,
  startMosquitto,
  type TestBroker,
} from "../harness/brokers.js";
import { useCleanups } from "../harness/cleanups.js";
import { startGateway } from "../harness/gateway.js";
import { ingestClientOf } from "../harness/ingest-client.js";
import { connectClient, nodeOf, type TestClient, waitStatus } from "../harness/opcua-client.js";
import { makeTestPki, type TestPki } from "../harness/pki.js";
import { needs } from "../harness/tools.js";
import { waitFor } from "../harness/wait.js";

const T5 = "11/5/3WA/Feeder 01/ETU";
const T21 = "21/14/3WA/Feeder 01/ETU";
const GATEWAY_PASSWORD = "gw-Pa55word!";
const DEVICE_PASSWORD = "device-Pa55word!";

let pki: TestPki;
let secrets: string;
beforeAll(async () => {
  pki = await makeTestPki();
  // Docker secrets: one file each, with the trailing newline `echo` or an editor leaves.
  secrets = mkdtempSync(join(tmpdir(), "smartgear-secrets-"));
  writeFileSync(join(secrets, "mqtt_password"), `${GATEWAY_PASSWORD}\n`);
  writeFileSync(join(secrets, "wrong_password"), "not-the-password\n");
  writeFileSync(join(secrets, "key_passphrase"), `${pki.clientKeyPassphrase}\n`);
});
afterAll(() => {
  pki.stop();
  rmSync(secrets, { recursive: true, force: true });
});

const { track } = useCleanups();

const brokerConnected = async (client: TestClient) =>
  (await client.read("ns=2;s=Gateway/BrokerConnected")).value.value as boolean;

/** An MQTT.js client of the test CA: the device that publishes, with the gateway's certificate. */
function deviceTls(): IClientOptions & { passphrase: string } {
  return {
    ca: readFileSync(pki.caCert),
    cert: readFileSync(pki.clientCert),
    key: readFileSync(pki.clientKey),
    passphrase: pki.clientKeyPassphrase,
  };
}

describe(
  "the gateway as a client of mosquitto over TLS 1.3 with client certificates and passwords",
  needs("mosquitto"),
  () => {
    let broker: TestBroker;
    beforeAll(async () => {
      const passwords = mosquittoPasswordFile(join(pki.dir, "mosquitto.passwd"), {
        gateway: GATEWAY_PASSWORD,
        device: DEVICE_PASSWORD,
      });
      broker = await startMosquitto(`password_file ${passwords}\n`, {
        scheme: "mqtts",
        allowAnonymous: false,
        listener: [
          `cafile ${pki.caCert}`,
          `certfile ${pki.serverCert}`,
          `keyfile ${pki.serverKey}`,
          "require_certificate true",
          "tls_version tlsv1.3",
        ].join("\n"),
      });
    });
    afterAll(() => broker?.stop());

    /** Gateway YAML for this broker; `tls` and `credentials` lines replace the working defaults. */
    const mqttYaml = (over: { tls?: string; credentials?: string; extra?: string } = {}) =>
      [
        "mqtt:",
        `  url: ${broker.url}`,
        `  clientId: gw-tls-${Math.random().toString(36).slice(2)}`,
        "  reconnectPeriod: 200",
        "  reconnectPeriodMax: 400",
        over.credentials ?? `  username: gateway\n  passwordFile: ${join(secrets, "mqtt_password")}`,
        "  tls:",
        over.tls ??
          [
            `    caFile: ${pki.caCert}`,
            `    certFile: ${pki.clientCert}`,
            `    keyFile: ${pki.clientKey}`,
            `    keyPassphraseFile: ${join(secrets, "key_passphrase")}`,
          ].join("\n"),
        over.extra ?? "",
      ].join("\n");

    it("connects with a client certificate, an encrypted key and a password from files, and mirrors a value", async () => {
      const gw = track(await startGateway(mqttYaml()));
      const client = track(await connectClient(gw.endpointUrl));
      await waitFor("connected", () => brokerConnected(client));
      expect((await client.read("ns=2;s=Gateway/BrokerProtocol")).value.value).toBe("5");
      await publish(broker.url, [{ topic: T5, payload: '{"value": 231.2}' }], {
        ...deviceTls(),
        username: "device",
        password: DEVICE_PASSWORD,
      });
      await waitStatus(client, T5, StatusCodes.Good);
      expect((await client.read(nodeOf(T5))).value.value).toBe(231.2);
    });

    it("negotiates TLS 1.3 and logs how the link is secured, never a secret", async () => {
      const c = track(await ingestClientOf(mqttYaml()));
      await waitFor("connected", () => c.connected());
      const connected = c.logs.find((l) => l.message === "connected to MQTT broker");
      expect(connected).toMatchObject({ protocol: "5", clientCertificate: true, username: "gateway" });
      expect(String(connected?.tls)).toMatch(/^TLSv1\.3 /);
      expect(c.logText()).not.toContain(GATEWAY_PASSWORD);
      expect(c.logText()).not.toContain(pki.clientKeyPassphrase);
    });

    it("refuses a broker whose certificate does not verify: not connected, points BadNoCommunication, reason logged", async () => {
      const untrusting = mqttYaml({
        tls: [
          `    caFile: ${pki.otherCaCert}`,
          `    certFile: ${pki.clientCert}`,
          `    keyFile: ${pki.clientKey}`,
          `    keyPassphraseFile: ${join(secrets, "key_passphrase")}`,
        ].join("\n"),
      });
      const gw = track(
        await startGateway(`${untrusting}\ndevices:\n  - { type: 3WA, name: Feeder 01, source: ETU }\n`),
      );
      const client = track(await connectClient(gw.endpointUrl));
      expect(await brokerConnected(client)).toBe(false);
      expect((await client.read(nodeOf(T5))).statusCode).toEqual(StatusCodes.BadNoCommunication);

      const c = track(await ingestClientOf(untrusting));
      await waitFor("a second failed attempt", () => c.client.connectFailures >= 2);
      expect(c.connected()).toBe(false);
      // mosquitto sends its CA along with its certificate: a self-signed root nobody here trusts.
      expect(c.client.lastFailure).toMatchObject({ kind: "tls", reason: "SELF_SIGNED_CERT_IN_CHAIN" });
      const errors = c.logs.filter((l) => l.level === "error");
      // Once at error level with its reason; the retries every backoff do not flood the log.
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({
        message: "TLS with the MQTT broker failed: not connected",
        reason: "SELF_SIGNED_CERT_IN_CHAIN",
      });
      expect(c.logText()).not.toContain(GATEWAY_PASSWORD);
    });

    it("checks the broker's name against mqtt.tls.serverName when it is set", async () => {
      const withName = (name: string) =>
        mqttYaml({
          tls: [
            `    caFile: ${pki.caCert}`,
            `    certFile: ${pki.clientCert}`,
            `    keyFile: ${pki.clientKey}`,
            `    keyPassphraseFile: ${join(secrets, "key_passphrase")}`,
            `    serverName: ${name}`,
          ].join("\n"),
        });
      const right = track(await ingestClientOf(withName("mqtt.smartgear.test")));
      await waitFor("connected by the certificate's other name", () => right.connected());
      const wrong = track(await ingestClientOf(withName("mqtt.example.org")));
      await waitFor("refused", () => wrong.client.lastFailure);
      expect(wrong.connected()).toBe(false);
      expect(wrong.client.lastFailure).toMatchObject({ kind: "tls", reason: "ERR_TLS_CERT_ALTNAME_INVALID" });
    });

    it("is refused with a wrong password, and says so once", async () => {
      const c = track(
        await ingestClientOf(
          mqttYaml({
            credentials: `  username: gateway\n  passwordFile: ${join(secrets, "wrong_password")}`,
          }),
        ),
      );
      await waitFor("refused twice", () => c.client.connectFailures >= 2);
      expect(c.connected()).toBe(false);
      // mosquitto answers a wrong password under MQTT 5 with CONNACK 0x87, Not authorized.
      expect(c.client.lastFailure).toMatchObject({ kind: "credentials", reason: String(0x87) });
      expect(c.logs.filter((l) => l.level === "error")).toHaveLength(1);
      expect(c.logText()).not.toContain("not-the-password");
    });

    it("is refused without a client certificate", async () => {
      const c = track(await ingestClientOf(mqttYaml({ tls: `    caFile: ${pki.caCert}` })));
      await waitFor("refused", () => c.client.lastFailure);
      expect(c.connected()).toBe(false);
      expect(c.client.lastFailure?.kind).toBe("tls");
    });

    it("does not start, naming the key and the file, when a secret file cannot be read", async () => {
      const missing = join(secrets, "no-such-secret");
      await expect(
        ingestClientOf(mqttYaml({ credentials: `  username: gateway\n  passwordFile: ${missing}` })),
      ).rejects.toThrow(`${missing}: mqtt.passwordFile: cannot read the file (ENOENT)`);
    });
  },
);

describe("the gateway as a client of a broker capped at TLS 1.2", needs("mosquitto"), () => {
  // mosquitto 2.0's tls_version is a minimum: a TLS terminator in front of it (as stunnel or a
  // load balancer would be) caps the version, and answers a 1.3-only ClientHello with alert 70.
  let broker: TestBroker;
  let terminator: tls.Server;
  let url = "";
  beforeAll(async () => {
    broker = await startMosquitto();
    terminator = tls.createServer(
      { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), maxVersion: "TLSv1.2" },
      (socket) => {
        const upstream = net.connect(broker.port, "127.0.0.1");
        socket.pipe(upstream).pipe(socket);
        socket.on("error", () => upstream.destroy());
        upstream.on("error", () => socket.destroy());
      },
    );
    terminator.on("tlsClientError", () => {});
    await new Promise<void>((r) => terminator.listen(0, "127.0.0.1", r));
    url = `mqtts://127.0.0.1:${(terminator.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => terminator?.close(r));
    await broker?.stop();
  });
  const yaml = (minVersion: string) =>
    `mqtt:\n  url: ${url}\n  clientId: gw-tls12-${Math.random().toString(36).slice(2)}\n  reconnectPeriod: 200\n  reconnectPeriodMax: 400\n  tls: { caFile: ${pki.caCert}, minVersion: ${minVersion} }\n`;

  it("reports a TLS version mismatch (Node's EPROTO with an SSL alert) as a TLS failure, with the hint", async () => {
    const c = track(await ingestClientOf(yaml("TLSv1.3")));
    await waitFor("a second failed attempt", () => c.client.connectFailures >= 2);
    expect(c.connected()).toBe(false);
    expect(c.client.lastFailure).toMatchObject({ kind: "tls", reason: "tlsv1 alert protocol version" });
    const errors = c.logs.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ message: "TLS with the MQTT broker failed: not connected" });
    expect(String(errors[0]?.hint)).toContain("mqtt.tls.minVersion");
    expect(c.logs.some((l) => l.message === "MQTT client error")).toBe(false);
  });

  it("connects with mqtt.tls.minVersion TLSv1.2", async () => {
    const c = track(await ingestClientOf(yaml("TLSv1.2")));
    await waitFor("connected", () => c.connected());
  });
});

describe("the embedded broker with TLS, users and per-user topic ACLs", () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: TestClient;
  let url: string;
  beforeAll(async () => {
    const tlsPort = await freePort();
    url = `mqtts://127.0.0.1:${tlsPort}`;
    gw = await startGateway(
      [
        "broker:",
        "  port: 0",
        "  plainListener: false",
        "  tls:",
        "    enabled: true",
        `    port: ${tlsPort}`,
        `    certFile: ${pki.serverCert}`,
        `    keyFile: ${pki.serverKey}`,
        `    caFile: ${pki.caCert}`,
        "    requireClientCertificate: true",
        "  users:",
        `    - { username: device-11, passwordHash: "${hashPassword(DEVICE_PASSWORD)}" }`,
        `    - { username: scada, passwordHash: "${hashPassword("scada-pw")}" }`,
        "  acl:",
        '    device-11: { publish: ["11/#"] }',
        '    scada: { subscribe: ["11/+/3WA/#"] }',
      ].join("\n"),
    );
    client = await connectClient(gw.endpointUrl);
  });
  afterAll(async () => {
    await client?.stop();
    await gw?.stop();
  });

  const device = (over: IClientOptions = {}): IClientOptions => ({
    ...deviceTls(),
    username: "device-11",
    password: DEVICE_PASSWORD,
    protocolVersion: 4,
    reconnectPeriod: 0,
    ...over,
  });

  /** The CONNACK refusal or TLS failure of a connection attempt; `closed` when it just ended. */
  const refusal = async (options: IClientOptions) => {
    const c = mqtt.connect(url, { ...options, reconnectPeriod: 0 });
    try {
      return await new Promise<{ code?: unknown; message: string }>((resolve, reject) => {
        c.once("connect", () => reject(new Error("connected")));
        c.once("error", (err) => resolve({ code: (err as { code?: unknown }).code, message: err.message }));
        c.once("close", () => resolve({ message: "closed" }));
      });
    } finally {
      c.end(true);
    }
  };

  it("mirrors what a device user publishes within its ACL", async () => {
    await publish(url, [{ topic: T5, payload: "229.9" }], device());
    await waitStatus(client, T5, StatusCodes.Good);
    expect((await client.read(nodeOf(T5))).value.value).toBe(229.9);
  });

  it("refuses a publish outside the user's ACL: the connection closes and nothing is mirrored", async () => {
    const c = await mqtt.connectAsync(url, device());
    const closed = new Promise<void>((resolve) => c.once("close", () => resolve()));
    c.publish(T21, "SN-0042", { qos: 0 });
    await closed;
    c.end(true);
    // An allowed message sent after it arrives; the refused one never does.
    await publish(url, [{ topic: T5, payload: "230.1" }], device());
    await waitFor("230.1", async () => (await client.read(nodeOf(T5))).value.value === 230.1);
    expect((await client.read(nodeOf(T21))).statusCode).toEqual(StatusCodes.BadNodeIdUnknown);
  });

  it("grants a subscription only within the user's ACL", async () => {
    const scada = await mqtt.connectAsync(url, device({ username: "scada", password: "scada-pw" }));
    try {
      expect(await scada.subscribeAsync("11/5/3WA/#", { qos: 1 })).toMatchObject([{ qos: 1 }]);
      // SUBACK 0x80 for the filter beyond the ACL; MQTT.js turns it into an error carrying the packet.
      const refused = await scada
        .subscribeAsync("#", { qos: 1 })
        .catch((err: { packet?: unknown }) => err.packet);
      expect(refused).toMatchObject({ granted: [128] });
    } finally {
      await scada.endAsync();
    }
  });

  it("refuses a wrong password, a client without credentials, and a client without a certificate", async () => {
    expect(await refusal(device({ password: "guess" }))).toMatchObject({ code: 4 });
    expect(await refusal(device({ username: undefined, password: undefined }))).toMatchObject({ code: 5 });
    expect(await refusal(device({ username: "nobody" }))).toMatchObject({ code: 4 });
    const noCertificate = await refusal({
      ca: readFileSync(pki.caCert),
      username: "device-11",
      password: DEVICE_PASSWORD,
    });
    expect(noCertificate).toMatchObject({ code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" });
  });

  it("refuses a client certificate from another CA", async () => {
    const { passphrase: _, ...tlsOptions } = deviceTls();
    const stranger = await refusal({
      ...tlsOptions,
      cert: readFileSync(pki.strangerCert),
      key: readFileSync(pki.strangerKey),
      username: "device-11",
      password: DEVICE_PASSWORD,
    });
    // The handshake ends with an alert MQTT.js does not report (it came after its own side was done).
    expect(stranger.message).toMatch(/closed|unknown ca/i);
  });
});
