import { X509Certificate } from "node:crypto";
import { resolve } from "node:path";
import tls from "node:tls";
import type { GatewayConfig } from "../config/config-types.js";
import { SecretFiles } from "../security/secret-files.js";
import { ProblemsError } from "../shared/errors.js";

/** What the MQTT client presents to its broker, read from the configuration and its files. */
export interface ClientSecurity {
  username?: string;
  password?: string;
  /** Options for tls.connect, used with mqtts://, tls:// and wss:// URLs. */
  tls: ClientTls;
}

export interface ClientTls {
  minVersion: tls.SecureVersion;
  rejectUnauthorized: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
  servername?: string;
}

/** True for the URL schemes MQTT.js connects over TLS. */
export function isTlsUrl(url: string): boolean {
  return /^(mqtts|tls|wss):\/\//.test(url);
}

/** The URL without the user info, for logs: `mqtts://user:secret@host` must not reach them. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, "$1***@");
}

/**
 * Reads the client's password, CA, certificate, key and passphrase files (all of them, listing
 * every problem at once) and checks that they fit together before the first connection: a wrong
 * passphrase or a certificate that is not the key's shows here, named, rather than as a failed
 * handshake later. Throws ProblemsError E_MQTT_SECRETS.
 */
export function loadClientSecurity(mqtt: GatewayConfig["mqtt"]): ClientSecurity {
  const files = new SecretFiles();
  const t = mqtt.tls;
  const password = mqtt.passwordFile ? files.text("mqtt.passwordFile", mqtt.passwordFile) : mqtt.password;
  const passphrase = t.keyPassphraseFile
    ? files.text("mqtt.tls.keyPassphraseFile", t.keyPassphraseFile)
    : t.keyPassphrase;
  const ca = files.bytes("mqtt.tls.caFile", t.caFile);
  const cert = files.bytes("mqtt.tls.certFile", t.certFile);
  const key = files.bytes("mqtt.tls.keyFile", t.keyFile);
  if (ca) checkCertificate(files, "mqtt.tls.caFile", t.caFile, ca);
  if (cert) checkCertificate(files, "mqtt.tls.certFile", t.certFile, cert);
  if (cert && key) checkKeyPair(files, "mqtt.tls", t.keyFile, { cert, key, passphrase });
  if (files.problems.length > 0)
    throw new ProblemsError("E_MQTT_SECRETS", "cannot read the MQTT credentials", files.problems);

  const options: ClientTls = {
    minVersion: t.minVersion,
    rejectUnauthorized: t.rejectUnauthorized,
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(t.serverName ? { servername: t.serverName } : {}),
  };
  return {
    ...(mqtt.username ? { username: mqtt.username } : {}),
    ...(password ? { password } : {}),
    tls: options,
  };
}

/** Options for the embedded broker's TLS listener (tls.createServer). Throws ProblemsError. */
export function loadBrokerTls(broker: GatewayConfig["broker"]): tls.TlsOptions {
  const files = new SecretFiles();
  const t = broker.tls;
  const cert = files.bytes("broker.tls.certFile", t.certFile);
  const key = files.bytes("broker.tls.keyFile", t.keyFile);
  const ca = files.bytes("broker.tls.caFile", t.caFile);
  if (cert) checkCertificate(files, "broker.tls.certFile", t.certFile, cert);
  if (ca) checkCertificate(files, "broker.tls.caFile", t.caFile, ca);
  if (cert && key) checkKeyPair(files, "broker.tls", t.keyFile, { cert, key });
  if (files.problems.length > 0)
    throw new ProblemsError(
      "E_BROKER_SECRETS",
      "cannot read the embedded broker's TLS files",
      files.problems,
    );
  return {
    cert,
    key,
    minVersion: t.minVersion,
    ...(ca ? { ca } : {}),
    // A client without a certificate signed by caFile does not complete the handshake.
    requestCert: t.requireClientCertificate,
    rejectUnauthorized: t.requireClientCertificate,
  };
}

function checkCertificate(files: SecretFiles, key: string, file: string, pem: Buffer): void {
  try {
    new X509Certificate(pem);
  } catch (err) {
    files.problem(key, resolve(file), `not a PEM certificate (${(err as Error).message})`);
  }
}

/** A key that does not decrypt, or does not belong to the certificate, is named with its reason. */
function checkKeyPair(
  files: SecretFiles,
  prefix: string,
  keyFile: string,
  pair: { cert: Buffer; key: Buffer; passphrase?: string | undefined },
): void {
  try {
    tls.createSecureContext(pair);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A wrong passphrase usually fails the padding check (BAD_DECRYPT); now and then (about one in
    // 256) the padding passes and the garbage fails to decode instead: either way it did not decrypt.
    const undecrypted =
      code === "ERR_OSSL_BAD_DECRYPT" || (isEncryptedPem(pair.key) && code === "ERR_OSSL_UNSUPPORTED");
    const reason = undecrypted
      ? prefix === "mqtt.tls"
        ? `the key does not decrypt: ${pair.passphrase ? "wrong" : "no"} passphrase (mqtt.tls.keyPassphrase or mqtt.tls.keyPassphraseFile)`
        : "the key is encrypted; the embedded broker takes an unencrypted key (protect the file instead)"
      : code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH"
        ? `the key is not the one of ${prefix}.certFile`
        : `unusable key (${(err as Error).message})`;
    files.problem(`${prefix}.keyFile`, resolve(keyFile), reason);
  }
}

/** A PEM private key under a passphrase (PKCS#8 "ENCRYPTED PRIVATE KEY", or a legacy Proc-Type header). */
function isEncryptedPem(key: Buffer): boolean {
  const text = key.toString("latin1");
  return text.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.includes("Proc-Type: 4,ENCRYPTED");
}
