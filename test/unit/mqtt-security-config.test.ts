import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildConfig, checkConfig } from "../../src/config/config-loader.js";
import { hashPassword } from "../../src/security/password-hash.js";
import { parseYamlText } from "../../src/shared/yaml-source.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/config/", import.meta.url));
const configOf = (yaml: string, env: NodeJS.ProcessEnv = {}) =>
  buildConfig(parseYamlText(yaml, "test.yaml"), env);

describe("MQTT security configuration", () => {
  it("defaults to TLS 1.3, verified broker certificates, no files, and an open embedded broker", () => {
    const { config } = configOf("");
    expect(config?.mqtt.tls).toEqual({
      minVersion: "TLSv1.3",
      caFile: "",
      certFile: "",
      keyFile: "",
      keyPassphrase: "",
      keyPassphraseFile: "",
      serverName: "",
      rejectUnauthorized: true,
    });
    expect(config?.mqtt.passwordFile).toBe("");
    expect(config?.broker).toMatchObject({
      plainListener: true,
      tls: { enabled: false, port: 8883, minVersion: "TLSv1.3", requireClientCertificate: false },
      users: [],
      acl: {},
    });
  });

  it("reports every mistake the schema cannot see, at its line, without echoing a password", () => {
    const file = join(FIXTURES, "invalid-mqtt-security.yaml");
    const { config, problems } = checkConfig(file, {});
    expect(config).toBeUndefined();
    expect(problems).toEqual([
      { file, line: 5, message: "mqtt.password and mqtt.passwordFile exclude each other: set one" },
      {
        file,
        line: 9,
        message: "mqtt.tls.keyPassphrase and mqtt.tls.keyPassphraseFile exclude each other: set one",
      },
      {
        file,
        line: 6,
        message: "mqtt.tls.certFile and mqtt.tls.keyFile go together: a client certificate needs its key",
      },
      { file, line: 6, message: "a key passphrase is set but mqtt.tls.keyFile is not" },
      {
        file,
        line: 14,
        message:
          "broker.tls.requireClientCertificate needs broker.tls.caFile, the CA that signs client certificates",
      },
      {
        file,
        line: 12,
        message: "broker.plainListener is false and broker.tls.enabled is not: no listener",
      },
      {
        file,
        line: 16,
        message:
          "broker.users.0.passwordHash: not a password hash (plain text is refused); make one with smartgear-gateway hash-password",
      },
      { file, line: 17, message: "broker user 'device-11' is declared twice" },
      {
        file,
        line: 20,
        message:
          "broker.acl.device-11.publish: '11/#/5' is not a topic filter (+ and # stand alone in their level, # only last)",
      },
      { file, line: 21, message: "broker.acl names 'ghost', who is not in broker.users" },
    ]);
    expect(JSON.stringify(problems)).not.toContain("plain-text-password");
  });

  it("refuses a TLS version below 1.2 and an ACL entry that is not publish/subscribe", () => {
    const { problems } = configOf(
      "mqtt:\n  tls:\n    minVersion: TLSv1.1\nbroker:\n  acl:\n    a: { read: ['#'] }\n",
    );
    expect(problems.map((p) => p.message)).toEqual([
      "broker.acl.a: unknown key 'read'",
      "mqtt.tls.minVersion: must be equal to one of the allowed values: TLSv1.3, TLSv1.2",
    ]);
  });

  it("takes every security key from the environment, Docker-secret file names included", () => {
    const hash = hashPassword("pw");
    const { config, problems } = configOf("", {
      SMARTGEAR_MQTT_URL: "mqtts://mqtt.example.com:8883",
      SMARTGEAR_MQTT_PASSWORD_FILE: "/run/secrets/mqtt_password",
      SMARTGEAR_MQTT_TLS_MIN_VERSION: "TLSv1.2",
      SMARTGEAR_MQTT_TLS_CA_FILE: "/run/secrets/ca.crt",
      SMARTGEAR_MQTT_TLS_CERT_FILE: "/run/secrets/client.crt",
      SMARTGEAR_MQTT_TLS_KEY_FILE: "/run/secrets/client.key",
      SMARTGEAR_MQTT_TLS_KEY_PASSPHRASE_FILE: "/run/secrets/key_passphrase",
      SMARTGEAR_MQTT_TLS_SERVER_NAME: "mqtt.internal",
      SMARTGEAR_MQTT_TLS_REJECT_UNAUTHORIZED: "false",
      SMARTGEAR_BROKER_PLAIN_LISTENER: "false",
      SMARTGEAR_BROKER_TLS_ENABLED: "true",
      SMARTGEAR_BROKER_TLS_PORT: "8884",
      SMARTGEAR_BROKER_TLS_CERT_FILE: "server.crt",
      SMARTGEAR_BROKER_TLS_KEY_FILE: "server.key",
      SMARTGEAR_BROKER_USERS: JSON.stringify([{ username: "d", passwordHash: hash }]),
      SMARTGEAR_BROKER_ACL: '{"d": {"publish": ["11/#"]}}',
    });
    expect(problems).toEqual([]);
    expect(config?.mqtt.passwordFile).toBe("/run/secrets/mqtt_password");
    expect(config?.mqtt.tls).toMatchObject({
      minVersion: "TLSv1.2",
      caFile: "/run/secrets/ca.crt",
      keyPassphraseFile: "/run/secrets/key_passphrase",
      serverName: "mqtt.internal",
      rejectUnauthorized: false,
    });
    expect(config?.broker.tls).toMatchObject({ enabled: true, port: 8884 });
    expect(config?.broker.users).toEqual([{ username: "d", passwordHash: hash }]);
    // The defaults fill in what the environment's JSON leaves out.
    expect(config?.broker.acl).toEqual({ d: { publish: ["11/#"], subscribe: [] } });
  });
});
