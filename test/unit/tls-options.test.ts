import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConfig } from "../../src/config/config-loader.js";
import type { GatewayConfig } from "../../src/config/config-types.js";
import { loadBrokerTls, loadClientSecurity, redactUrl } from "../../src/mqtt/tls-options.js";
import { ProblemsError } from "../../src/shared/errors.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";
import { makeTestPki, type TestPki } from "../harness/pki.js";

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterAll(() => pki.stop());

function configOf(yaml: string): GatewayConfig {
  const { config, problems } = buildConfig(parseYamlText(yaml, "test.yaml"), {});
  if (!config) throw new Error(JSON.stringify(problems));
  return config;
}

/** The problems loading throws, as `file: message` lines. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ProblemsError) return err.problems.map((p) => `${p.file}: ${p.message}`);
    throw err;
  }
  return [];
}

describe("the MQTT client's secrets, read at start", () => {
  it("reads a password and a key passphrase from files, trimming the trailing line break", () => {
    writeFileSync(join(pki.dir, "password"), "  pass word \n");
    writeFileSync(join(pki.dir, "passphrase"), `${pki.clientKeyPassphrase}\r\n`);
    const security = loadClientSecurity(
      configOf(
        `mqtt:\n  username: gw\n  passwordFile: ${pki.dir}/password\n  tls:\n    caFile: ${pki.caCert}\n` +
          `    certFile: ${pki.clientCert}\n    keyFile: ${pki.clientKey}\n    keyPassphraseFile: ${pki.dir}/passphrase\n` +
          "    serverName: mqtt.smartgear.test\n",
      ).mqtt,
    );
    // Only the line break goes: spaces may be part of a password.
    expect(security.password).toBe("  pass word ");
    expect(security.username).toBe("gw");
    expect(security.tls).toMatchObject({
      minVersion: "TLSv1.3",
      rejectUnauthorized: true,
      passphrase: pki.clientKeyPassphrase,
      servername: "mqtt.smartgear.test",
    });
    expect(security.tls.ca).toBeInstanceOf(Buffer);
    expect(security.tls.key).toBeInstanceOf(Buffer);
  });

  it("takes mqtt.password when no file is named, and sends none when neither is set", () => {
    expect(loadClientSecurity(configOf("mqtt:\n  username: u\n  password: p\n").mqtt)).toMatchObject({
      username: "u",
      password: "p",
    });
    expect(loadClientSecurity(configOf("").mqtt).password).toBeUndefined();
  });

  it("names every file it cannot read, with its key, all at once", () => {
    const missing = (name: string) => join(pki.dir, name);
    const problems = problemsOf(() =>
      loadClientSecurity(
        configOf(
          `mqtt:\n  passwordFile: ${missing("a")}\n  tls:\n    caFile: ${missing("b")}\n    certFile: ${missing("c")}\n` +
            `    keyFile: ${missing("d")}\n    keyPassphraseFile: ${missing("e")}\n`,
        ).mqtt,
      ),
    );
    expect(problems).toEqual([
      `${missing("a")}: mqtt.passwordFile: cannot read the file (ENOENT)`,
      `${missing("e")}: mqtt.tls.keyPassphraseFile: cannot read the file (ENOENT)`,
      `${missing("b")}: mqtt.tls.caFile: cannot read the file (ENOENT)`,
      `${missing("c")}: mqtt.tls.certFile: cannot read the file (ENOENT)`,
      `${missing("d")}: mqtt.tls.keyFile: cannot read the file (ENOENT)`,
    ]);
  });

  it("refuses an empty password file", () => {
    writeFileSync(join(pki.dir, "empty"), "\n");
    expect(
      problemsOf(() => loadClientSecurity(configOf(`mqtt:\n  passwordFile: ${pki.dir}/empty\n`).mqtt)),
    ).toEqual([`${pki.dir}/empty: mqtt.passwordFile: the file is empty`]);
  });

  it("says a wrong passphrase is wrong also when the garbage passes the padding check (about 1 in 256)", () => {
    // The PKI's key is new each run: find a passphrase whose decryption fails to decode, not to unpad.
    const key = readFileSync(pki.clientKey);
    let passphrase = "";
    for (let i = 0; i < 20_000 && !passphrase; i++) {
      try {
        createSecureContext({ key, passphrase: `guess-${i}` });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ERR_OSSL_UNSUPPORTED") passphrase = `guess-${i}`;
      }
    }
    expect(passphrase).not.toBe("");
    expect(
      problemsOf(() =>
        loadClientSecurity(
          configOf(
            `mqtt:\n  tls:\n    certFile: ${pki.clientCert}\n    keyFile: ${pki.clientKey}\n    keyPassphrase: ${passphrase}\n`,
          ).mqtt,
        ),
      ),
    ).toEqual([
      `${pki.clientKey}: mqtt.tls.keyFile: the key does not decrypt: wrong passphrase (mqtt.tls.keyPassphrase or mqtt.tls.keyPassphraseFile)`,
    ]);
  });

  it("says when the key does not decrypt or is not the certificate's, never quoting the passphrase", () => {
    const tls = (lines: string) => configOf(`mqtt:\n  tls:\n${lines}`).mqtt;
    const wrong = problemsOf(() =>
      loadClientSecurity(
        tls(`    certFile: ${pki.clientCert}\n    keyFile: ${pki.clientKey}\n    keyPassphrase: guess-Xy7\n`),
      ),
    );
    expect(wrong).toEqual([
      `${pki.clientKey}: mqtt.tls.keyFile: the key does not decrypt: wrong passphrase (mqtt.tls.keyPassphrase or mqtt.tls.keyPassphraseFile)`,
    ]);
    expect(wrong.join()).not.toContain("guess-Xy7");
    expect(
      problemsOf(() =>
        loadClientSecurity(tls(`    certFile: ${pki.clientCert}\n    keyFile: ${pki.clientKey}\n`)),
      ),
    ).toEqual([
      `${pki.clientKey}: mqtt.tls.keyFile: the key does not decrypt: no passphrase (mqtt.tls.keyPassphrase or mqtt.tls.keyPassphraseFile)`,
    ]);
    expect(
      problemsOf(() =>
        loadClientSecurity(tls(`    certFile: ${pki.clientCert}\n    keyFile: ${pki.strangerKey}\n`)),
      ),
    ).toEqual([`${pki.strangerKey}: mqtt.tls.keyFile: the key is not the one of mqtt.tls.certFile`]);
  });

  it("refuses a CA file that holds no certificate", () => {
    writeFileSync(join(pki.dir, "not-a-ca.pem"), "hello\n");
    const problems = problemsOf(() =>
      loadClientSecurity(configOf(`mqtt:\n  tls:\n    caFile: ${pki.dir}/not-a-ca.pem\n`).mqtt),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/not-a-ca\.pem: mqtt\.tls\.caFile: not a PEM certificate/);
  });

  it("keeps credentials in a URL out of the logs", () => {
    expect(redactUrl("mqtts://gw:s3cret@broker:8883")).toBe("mqtts://***@broker:8883");
    expect(redactUrl("mqtts://broker:8883/path@x")).toBe("mqtts://broker:8883/path@x");
    expect(redactUrl("")).toBe("");
  });
});

describe("the embedded broker's TLS listener options", () => {
  it("asks for client certificates of caFile when required", () => {
    const options = loadBrokerTls(
      configOf(
        `broker:\n  tls:\n    enabled: true\n    certFile: ${pki.serverCert}\n    keyFile: ${pki.serverKey}\n` +
          `    caFile: ${pki.caCert}\n    requireClientCertificate: true\n`,
      ).broker,
    );
    expect(options).toMatchObject({ minVersion: "TLSv1.3", requestCert: true, rejectUnauthorized: true });
  });

  it("refuses an encrypted key, which it has no passphrase for", () => {
    const problems = problemsOf(() =>
      loadBrokerTls(
        configOf(
          `broker:\n  tls:\n    enabled: true\n    certFile: ${pki.clientCert}\n    keyFile: ${pki.clientKey}\n`,
        ).broker,
      ),
    );
    expect(problems).toEqual([
      `${pki.clientKey}: broker.tls.keyFile: the key is encrypted; the embedded broker takes an unencrypted key (protect the file instead)`,
    ]);
  });
});
