import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** File paths of a certificate authority made for one test run, and of what it signed. */
export interface TestPki {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caCert: string;
  /** Another CA, which signed nothing the brokers present: trusting it alone must fail. */
  otherCaCert: string;
  /** Server certificate for localhost, 127.0.0.1 and mqtt.smartgear.test. */
  serverCert: string;
  serverKey: string;
  /** Client certificate (CN=gateway) with its key encrypted under `clientKeyPassphrase`. */
  clientCert: string;
  clientKey: string;
  clientKeyPassphrase: string;
  /** A client certificate signed by the other CA: a broker requiring ours must refuse it. */
  strangerCert: string;
  strangerKey: string;
  stop(): void;
}

/** The openssl CLI (Debian's `openssl` package; .ci/run installs it). */
function openssl(dir: string, ...args: string[]): void {
  try {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new Error("openssl is not installed: apt-get install openssl (.ci/run does)");
    throw err;
  }
}

/** EC P-256 keys: fast to make, and what current brokers and devices use. */
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

function makeCa(dir: string, name: string, cn: string): void {
  openssl(
    dir,
    "req",
    "-x509",
    ...EC,
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
}

function sign(dir: string, ca: string, name: string, extensions: string, passphrase?: string): void {
  const pass = passphrase ? ["-passin", `pass:${passphrase}`] : [];
  openssl(dir, "req", "-new", "-key", `${name}.key`, ...pass, "-subj", `/CN=${name}`, "-out", `${name}.csr`);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  );
}

function makeKey(dir: string, name: string, passphrase?: string): void {
  const encrypt = passphrase ? ["-aes-256-cbc", "-pass", `pass:${passphrase}`] : [];
  openssl(
    dir,
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    ...encrypt,
    "-out",
    `${name}.key`,
  );
}

/** A fresh CA, server and client certificates in a temporary folder, made with the openssl CLI. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-pki-"));
  const clientKeyPassphrase = "correct horse battery staple";
  makeCa(dir, "ca", "Sm@rtGear Test CA");
  makeCa(dir, "other-ca", "Some Other CA");
  makeKey(dir, "server");
  sign(
    dir,
    "ca",
    "server",
    "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:mqtt.smartgear.test\nextendedKeyUsage=serverAuth\n",
  );
  makeKey(dir, "gateway", clientKeyPassphrase);
  sign(dir, "ca", "gateway", "extendedKeyUsage=clientAuth\n", clientKeyPassphrase);
  makeKey(dir, "stranger");
  sign(dir, "other-ca", "stranger", "extendedKeyUsage=clientAuth\n");
  const at = (f: string) => join(dir, f);
  return {
    dir,
    caCert: at("ca.crt"),
    otherCaCert: at("other-ca.crt"),
    serverCert: at("server.crt"),
    serverKey: at("server.key"),
    clientCert: at("gateway.crt"),
    clientKey: at("gateway.key"),
    clientKeyPassphrase,
    strangerCert: at("stranger.crt"),
    strangerKey: at("stranger.key"),
    stop: () => rmSync(dir, { recursive: true, force: true }),
  };
}
