import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { GatewayError } from "../shared/errors.js";

export type PkiList = "trusted" | "rejected" | "issuers";

/** A certificate file in the PKI, described as an operator needs to decide on it. */
export interface PkiEntry {
  list: PkiList;
  file: string;
  /** SHA-1 of the DER, lowercase hex: how node-opcua and UaExpert name a certificate. */
  thumbprint: string;
  subject: string;
  applicationUri: string;
  validFrom: string;
  validTo: string;
}

/** A CRL installed in the PKI: the CA that issued it and how many certificates it revokes. */
export interface PkiCrl {
  file: string;
  issuer: string;
  revoked: number;
}

const FOLDERS: Record<PkiList, string> = {
  trusted: "trusted/certs",
  rejected: "rejected",
  issuers: "issuers/certs",
};

/**
 * The on-disk PKI store of node-opcua (own, trusted/certs, rejected, issuers/certs). The running
 * server watches these folders, so moving a file here takes effect without a restart.
 */
export class PkiStore {
  constructor(readonly root: string) {}

  list(): PkiEntry[] {
    return (Object.keys(FOLDERS) as PkiList[]).flatMap((list) => {
      const dir = join(this.root, FOLDERS[list]);
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((f) => /\.(der|pem|crt)$/i.test(f))
        .map((f) => describeCertificate(list, join(dir, f)));
    });
  }

  /** Trusts a rejected certificate (by thumbprint prefix) or a certificate file (a CA, a client). */
  trust(what: string): PkiEntry {
    if (existsSync(what)) {
      const entry = describeCertificate("trusted", what);
      const target = join(this.root, FOLDERS.trusted);
      mkdirSync(target, { recursive: true });
      const file = join(target, `${entry.thumbprint}.pem`);
      writeFileSync(file, new X509Certificate(readFileSync(what)).toString());
      // node-opcua looks in rejected/ first: a certificate filed there must leave it to be trusted.
      for (const e of this.list())
        if (e.list === "rejected" && e.thumbprint === entry.thumbprint) rmSync(e.file);
      return { ...entry, file };
    }
    return this.move(what, "rejected", "trusted");
  }

  /**
   * Installs the certificate revocation list (PEM or DER) of a trusted or issuer CA in trusted/crl,
   * replacing that CA's previous one. node-opcua refuses every certificate a CA issued while it has
   * no CRL of that CA (BadCertificateRevocationUnknown), and reads a CRL file once, when it
   * appears, never again: each CRL gets a name of its own, appears whole (renamed into place, so
   * that the server never reads it half written) and then the previous file is removed.
   */
  addCrl(file: string): PkiCrl {
    let crl: { der: Buffer; issuer: Buffer; revoked: number };
    try {
      const bytes = readFileSync(file);
      const pem = /-----BEGIN X509 CRL-----([^-]+)-----END X509 CRL-----/.exec(bytes.toString("latin1"));
      const der = pem ? Buffer.from(pem[1]!, "base64") : bytes;
      crl = { der, ...readCrl(der) };
    } catch (err) {
      throw new GatewayError("E_PKI", `${file} is not a certificate revocation list`, { cause: err });
    }
    const ca = this.list().find(
      (e) => e.list !== "rejected" && certificateSubject(readCertificateDer(e.file)).equals(crl.issuer),
    );
    if (!ca)
      throw new GatewayError(
        "E_PKI",
        `${file}: no trusted or issuer CA in ${this.root} issued this CRL; trust the CA first (pki trust ca.pem)`,
      );
    const dir = join(this.root, "trusted", "crl");
    mkdirSync(dir, { recursive: true });
    const name = `${ca.thumbprint}-${createHash("sha1").update(crl.der).digest("hex").slice(0, 16)}.crl`;
    const body = crl.der.toString("base64").replace(/.{1,64}/g, "$&\n");
    const partial = join(this.root, "trusted", `.${name}.partial`);
    writeFileSync(partial, `-----BEGIN X509 CRL-----\n${body}-----END X509 CRL-----\n`);
    renameSync(partial, join(dir, name));
    for (const f of readdirSync(dir))
      if (f.startsWith(`${ca.thumbprint}-`) && f !== name) rmSync(join(dir, f));
    return { file: join(dir, name), issuer: ca.subject, revoked: crl.revoked };
  }

  /** Withdraws trust: moves a trusted certificate (by thumbprint prefix) to rejected. */
  reject(thumbprint: string): PkiEntry {
    return this.move(thumbprint, "trusted", "rejected");
  }

  private move(thumbprint: string, from: PkiList, to: PkiList): PkiEntry {
    const prefix = thumbprint.toLowerCase().replace(/:/g, "");
    const matches = this.list().filter((e) => e.list === from && e.thumbprint.startsWith(prefix));
    if (prefix.length < 4 || matches.length === 0)
      throw new GatewayError("E_PKI", `no ${from} certificate with thumbprint ${thumbprint} in ${this.root}`);
    if (matches.length > 1)
      throw new GatewayError(
        "E_PKI",
        `thumbprint ${thumbprint} is ambiguous: ${matches.map((m) => m.thumbprint).join(", ")}`,
      );
    const entry = matches[0]!;
    const target = join(this.root, FOLDERS[to]);
    mkdirSync(target, { recursive: true });
    const file = join(target, basename(entry.file));
    renameSync(entry.file, file);
    return { ...entry, list: to, file };
  }
}

/** Who a certificate names, as `pki list` shows it and `pki trust` takes it (the SHA-1 thumbprint). */
export function certificateIdentity(
  cert: X509Certificate,
): Pick<PkiEntry, "thumbprint" | "subject" | "applicationUri"> {
  return {
    thumbprint: cert.fingerprint.replace(/:/g, "").toLowerCase(),
    subject: cert.subject.replace(/\n/g, ", "),
    applicationUri: /URI:([^,]+)/.exec(cert.subjectAltName ?? "")?.[1] ?? "",
  };
}

export function describeCertificate(list: PkiList, file: string): PkiEntry {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(file));
  } catch (err) {
    throw new GatewayError("E_PKI", `${file} is not a certificate`, { cause: err });
  }
  return {
    list,
    file,
    ...certificateIdentity(cert),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
  };
}

function readCertificateDer(file: string): Buffer {
  return new X509Certificate(readFileSync(file)).raw;
}

/** One DER element at `at`: its tag, where its contents start and where it ends. */
function derAt(der: Buffer, at: number): { at: number; tag: number; start: number; end: number } {
  const first = der[at + 1] ?? 0;
  let start = at + 2;
  let length = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new Error(`unsupported DER length at ${at}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (der[start + i] ?? 0);
    start += n;
  }
  const end = start + length;
  if (at + 2 > der.length || end > der.length) throw new Error(`truncated DER at ${at}`);
  return { at, tag: der[at]!, start, end };
}

const SEQUENCE = 0x30;
const isTime = (tag: number) => tag === 0x17 || tag === 0x18;

/** The issuer (the DER Name) of a CRL and how many certificates it revokes (RFC 5280 §5.1). */
function readCrl(der: Buffer): { issuer: Buffer; revoked: number } {
  const list = derAt(der, 0);
  const tbs = derAt(der, list.start);
  let el = derAt(der, tbs.start);
  if (el.tag === 0x02) el = derAt(der, el.end); // version
  const issuer = derAt(der, el.end); // after the signature's AlgorithmIdentifier
  const thisUpdate = derAt(der, issuer.end);
  if (list.tag !== SEQUENCE || tbs.tag !== SEQUENCE || el.tag !== SEQUENCE || issuer.tag !== SEQUENCE)
    throw new Error("not a CertificateList");
  if (!isTime(thisUpdate.tag)) throw new Error("no thisUpdate");
  let revoked = 0;
  let next = thisUpdate.end < tbs.end ? derAt(der, thisUpdate.end) : null;
  if (next && isTime(next.tag)) next = next.end < tbs.end ? derAt(der, next.end) : null; // nextUpdate
  if (next?.tag === SEQUENCE) for (let at = next.start; at < next.end; at = derAt(der, at).end) revoked++;
  return { issuer: der.subarray(issuer.at, issuer.end), revoked };
}

/** The subject (the DER Name) of a certificate, to match it with a CRL's issuer byte for byte. */
function certificateSubject(der: Buffer): Buffer {
  const tbs = derAt(der, derAt(der, 0).start);
  let el = derAt(der, tbs.start);
  if (el.tag === 0xa0) el = derAt(der, el.end); // version
  // serialNumber, then signature, issuer, validity, subject
  for (let i = 0; i < 4; i++) el = derAt(der, el.end);
  return der.subarray(el.at, el.end);
}
