import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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

/** An RSA 2048 certificate authority for OPC UA run with `openssl ca`: it issues, revokes and publishes a CRL. */
export interface OpcuaTestCa {
  /** The CA certificate (PEM). */
  cert: string;
  /** Issues a certificate for OPC UA: RSA 2048, valid from an hour ago, key not encrypted. */
  issue(name: string, subject: { cn: string; applicationUri?: string }): { cert: string; key: string };
  /** Marks an issued certificate revoked in the CA's index (it shows in the next `crl()`). */
  revoke(cert: string): void;
  /** Writes the CA's current CRL (PEM, `openssl ca -gencrl`) and returns its path. */
  crl(): string;
}

/** The `openssl ca` setup of one CA: its index, serial and CRL number, and the policy of a test CA. */
const caConfig = (dir: string) => `[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.crt
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 2
default_crl_days = 2
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
`;

/** The time `openssl ca -startdate` takes (YYMMDDHHMMSSZ). */
const opensslTime = (d: Date) => `${d.toISOString().slice(2, 19).replace(/[-T:]/g, "")}Z`;

/**
 * A fresh RSA 2048 CA in `<dir>/<name>`. What it issues carries what OPC UA asks of an application
 * instance certificate (Part 6 §6.2.2): keyUsage digitalSignature, nonRepudiation,
 * keyEncipherment and dataEncipherment, extendedKeyUsage clientAuth and serverAuth, the
 * authorityKeyIdentifier by which node-opcua finds the CA, and in the subjectAltName the
 * applicationUri (URI) and DNS localhost.
 */
export function makeOpcuaCa(parent: string, name: string, cn: string): OpcuaTestCa {
  const dir = join(parent, name);
  mkdirSync(join(dir, "newcerts"), { recursive: true });
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(join(dir, "crlnumber"), "1000\n");
  writeFileSync(join(dir, "ca.cnf"), caConfig(dir));
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  const at = (f: string) => join(dir, f);
  return {
    cert: at("ca.crt"),
    issue(leaf, subject) {
      openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${leaf}.key`);
      openssl(dir, "req", "-new", "-key", `${leaf}.key`, "-subj", `/CN=${subject.cn}`, "-out", `${leaf}.csr`);
      const san = [subject.applicationUri ? `URI:${subject.applicationUri}` : "", "DNS:localhost"];
      writeFileSync(
        at(`${leaf}.ext`),
        "[ leaf ]\nbasicConstraints = critical, CA:FALSE\nsubjectKeyIdentifier = hash\n" +
          "authorityKeyIdentifier = keyid, issuer\n" +
          "keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment\n" +
          `extendedKeyUsage = clientAuth, serverAuth\nsubjectAltName = ${san.filter(Boolean).join(", ")}\n`,
      );
      openssl(
        dir,
        "ca",
        "-batch",
        "-notext",
        "-config",
        "ca.cnf",
        "-in",
        `${leaf}.csr`,
        "-out",
        `${leaf}.crt`,
        "-extfile",
        `${leaf}.ext`,
        "-extensions",
        "leaf",
        "-startdate",
        opensslTime(new Date(Date.now() - 3600_000)),
      );
      return { cert: at(`${leaf}.crt`), key: at(`${leaf}.key`) };
    },
    revoke(cert) {
      openssl(dir, "ca", "-config", "ca.cnf", "-revoke", cert, "-crl_reason", "keyCompromise");
    },
    crl() {
      openssl(dir, "ca", "-config", "ca.cnf", "-gencrl", "-out", "ca.crl");
      return at("ca.crl");
    },
  };
}
