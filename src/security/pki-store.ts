import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { GatewayError } from "../errors.js";

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
    thumbprint: cert.fingerprint.replace(/:/g, "").toLowerCase(),
    subject: cert.subject.replace(/\n/g, ", "),
    applicationUri: /URI:([^,]+)/.exec(cert.subjectAltName ?? "")?.[1] ?? "",
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
  };
}
