// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { createPrivateKey, X509Certificate as NodeX509Certificate, webcrypto } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";

// Made in Node (WebCrypto, which @peculiar/x509 takes from globalThis.crypto), so that
// `npm ci && npm test` needs no openssl CLI.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

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

/** EC P-256 keys: fast to make, and what current brokers and devices use. */
const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
/** RSA 2048 with SHA-256: what OPC UA's Basic256Sha256 policy signs with. */
const RSA = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
type KeyAlgorithm = typeof EC | typeof RSA;

const HOUR = 3600_000;
/** Two days, as the CLI-made test certificates had; valid from an hour ago against clock skew. */
const validity = () => ({
  notBefore: new Date(Date.now() - HOUR),
  notAfter: new Date(Date.now() + 48 * HOUR),
});

interface Issuer {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  alg: KeyAlgorithm;
}

const generateKeys = (alg: KeyAlgorithm) =>
  webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;

/** PKCS#8 PEM, encrypted with AES-256-CBC under `passphrase` when given (as `openssl genpkey -aes-256-cbc` wrote it). */
async function keyPem(key: CryptoKey, passphrase?: string): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const pem = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  return pem.export(
    passphrase
      ? { format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase }
      : { format: "pem", type: "pkcs8" },
  ) as string;
}

/** A self-signed CA: basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign, both critical. */
async function makeCa(cn: string, alg: KeyAlgorithm): Promise<Issuer> {
  const keys = await generateKeys(alg);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: alg,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, alg };
}

/** A certificate for `cn` signed by `ca`, carrying `extensions` and the key identifiers that link it to the CA. */
async function sign(ca: Issuer, serialNumber: string, cn: string, extensions: x509.Extension[]) {
  const keys = await generateKeys(ca.alg);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: `CN=${cn}`,
    // The CA's own encoded name, so that the chain matches byte for byte.
    issuer: ca.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ca.alg,
    ...validity(),
    extensions: [
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return { cert, keys };
}

const eku = (...usages: string[]) => new x509.ExtendedKeyUsageExtension(usages);

/** A fresh CA, server and client certificates in a temporary folder. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), "smartgear-pki-"));
  const at = (f: string) => join(dir, f);
  const write = async (
    name: string,
    issued: { cert: x509.X509Certificate; keys: CryptoKeyPair },
    pass?: string,
  ) => {
    writeFileSync(at(`${name}.crt`), issued.cert.toString("pem"));
    writeFileSync(at(`${name}.key`), await keyPem(issued.keys.privateKey, pass));
  };
  const clientKeyPassphrase = "correct horse battery staple";
  const ca = await makeCa("Sm@rtGear Test CA", EC);
  const otherCa = await makeCa("Some Other CA", EC);
  writeFileSync(at("ca.crt"), ca.cert.toString("pem"));
  writeFileSync(at("other-ca.crt"), otherCa.cert.toString("pem"));
  const san = new x509.SubjectAlternativeNameExtension([
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
    { type: "dns", value: "mqtt.smartgear.test" },
  ]);
  await write("server", await sign(ca, "10", "server", [san, eku(x509.ExtendedKeyUsage.serverAuth)]));
  await write(
    "gateway",
    await sign(ca, "11", "gateway", [eku(x509.ExtendedKeyUsage.clientAuth)]),
    clientKeyPassphrase,
  );
  await write("stranger", await sign(otherCa, "10", "stranger", [eku(x509.ExtendedKeyUsage.clientAuth)]));
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

/** An RSA 2048 certificate authority for OPC UA: it issues, revokes and publishes a CRL. */
export interface OpcuaTestCa {
  /** The CA certificate (PEM). */
  cert: string;
  /** Issues a certificate for OPC UA: RSA 2048, valid from an hour ago, key not encrypted. */
  issue(
    name: string,
    subject: { cn: string; applicationUri?: string },
  ): Promise<{ cert: string; key: string }>;
  /** Marks an issued certificate revoked (it shows in the next `crl()`). */
  revoke(cert: string): void;
  /** Writes the CA's current CRL (PEM) and returns its path. */
  crl(): Promise<string>;
}

/** DER of an ASN.1 INTEGER holding a small non-negative number (the cRLNumber extension's value). */
const derInteger = (n: number) => {
  const bytes = [];
  for (let v = n; bytes.length === 0 || v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]);
};
const CRL_NUMBER = "2.5.29.20";

/**
 * A fresh RSA 2048 CA in `<dir>/<name>`. What it issues carries what OPC UA asks of an application
 * instance certificate (Part 6 §6.2.2): keyUsage digitalSignature, nonRepudiation,
 * keyEncipherment and dataEncipherment, extendedKeyUsage clientAuth and serverAuth, the
 * authorityKeyIdentifier by which node-opcua finds the CA, and in the subjectAltName the
 * applicationUri (URI) and DNS localhost.
 */
export async function makeOpcuaCa(parent: string, name: string, cn: string): Promise<OpcuaTestCa> {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  const at = (f: string) => join(dir, f);
  const ca = await makeCa(cn, RSA);
  writeFileSync(at("ca.crt"), ca.cert.toString("pem"));
  let serial = 0x1000;
  let crlNumber = 0x1000;
  const revoked: x509.X509CrlEntryParams[] = [];
  const usage = x509.KeyUsageFlags;
  return {
    cert: at("ca.crt"),
    async issue(leaf, subject) {
      const names: x509.JsonGeneralName[] = [{ type: "dns", value: "localhost" }];
      if (subject.applicationUri) names.unshift({ type: "url", value: subject.applicationUri });
      const issued = await sign(ca, (serial++).toString(16), subject.cn, [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          usage.digitalSignature | usage.nonRepudiation | usage.keyEncipherment | usage.dataEncipherment,
          true,
        ),
        eku(x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth),
        new x509.SubjectAlternativeNameExtension(names),
      ]);
      writeFileSync(at(`${leaf}.crt`), issued.cert.toString("pem"));
      writeFileSync(at(`${leaf}.key`), await keyPem(issued.keys.privateKey));
      return { cert: at(`${leaf}.crt`), key: at(`${leaf}.key`) };
    },
    revoke(cert) {
      const serialNumber = new NodeX509Certificate(readFileSync(cert)).serialNumber;
      revoked.push({ serialNumber, revocationDate: new Date(), reason: x509.X509CrlReason.keyCompromise });
    },
    async crl() {
      const crl = await x509.X509CrlGenerator.create({
        issuer: ca.cert.subjectName,
        thisUpdate: new Date(Date.now() - 60_000),
        nextUpdate: new Date(Date.now() + 48 * HOUR),
        entries: revoked,
        signingKey: ca.keys.privateKey,
        signingAlgorithm: RSA,
        extensions: [
          await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
          new x509.Extension(CRL_NUMBER, false, derInteger(crlNumber++)),
        ],
      });
      // RFC 7468 §5 labels a CRL "X509 CRL" (the library writes "CRL", which openssl and node-opcua refuse).
      writeFileSync(at("ca.crl"), x509.PemConverter.encode(crl.rawData, "X509 CRL"));
      return at("ca.crl");
    },
  };
}
