import { X509Certificate } from "node:crypto";
import { statSync } from "node:fs";
import type { StatusCode, StatusCodeCallback } from "node-opcua";
import { certificateIdentity } from "../security/pki-store.js";
import type { Logger } from "../shared/logger.js";
import { OPCUACertificateManager, StatusCodes } from "../shared/node-opcua.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";

type Chain = Parameters<OPCUACertificateManager["getTrustStatus"]>[0];

/** The first certificate of a DER chain (a client may send its issuers after it): one SEQUENCE. */
function leafOf(der: Buffer): Buffer {
  const first = der[1] ?? 0;
  if (first < 0x80) return der.subarray(0, 2 + first);
  const n = first & 0x7f;
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + (der[2 + i] ?? 0);
  return der.subarray(0, 2 + n + length);
}

/**
 * A certificate manager that says, once a minute per certificate and in the gateway's words, whom
 * it refused (subject, application URI, thumbprint) and, for a certificate that is only unknown,
 * the command that trusts it. node-opcua says it with two warnings and a Buffer, and tells the
 * client only BadSecurityChecksFailed (Part 6 6.7.4 forbids saying more).
 */
export class ReportingCertificateManager extends OPCUACertificateManager {
  private readonly refusals: RateLimitedLog;
  /** The folders only an operator changes, and what they looked like when the index was last read. */
  private seenFolders = "";
  private reloading: Promise<void> | undefined;
  private checking = 0;
  private whenIdle: (() => void) | undefined;

  constructor(
    options: ConstructorParameters<typeof OPCUACertificateManager>[0],
    logger: Logger,
    private readonly trustFlags = "",
  ) {
    super(options);
    this.refusals = new RateLimitedLog(logger, 1, 60_000);
  }

  override checkCertificate(chain: Chain): Promise<StatusCode>;
  override checkCertificate(chain: Chain, callback: StatusCodeCallback): void;
  override checkCertificate(chain: Chain, callback?: StatusCodeCallback): Promise<StatusCode> | undefined {
    const verdict = this.withFreshIndex(() => super.checkCertificate(chain) as Promise<StatusCode>).then(
      (status) => {
        if (status.isNotGood()) this.report(Array.isArray(chain) ? chain[0] : chain, status);
        return status;
      },
    );
    if (!callback) return verdict;
    verdict.then(
      (status) => callback(null, status),
      (err: Error) => callback(err),
    );
    return undefined;
  }

  /**
   * node-opcua keeps an index of its folders, updated by file watchers. A certificate it files in
   * rejected/ is indexed at once, but leaves the index only if the watcher saw the file appear:
   * moved to trusted/ by `pki trust` before that (a loaded machine, an operator quick to trust), it
   * stays "rejected" in memory for good, and the client is refused until a restart. So before each
   * check, a change of the operator's folders (two stat calls' worth, never the rejected/ folder that
   * any peer can fill) makes the index be read again from disk, while no other check runs on it.
   */
  private async withFreshIndex(check: () => Promise<StatusCode>): Promise<StatusCode> {
    while (this.reloading) await this.reloading;
    const folders = this.operatorFolders();
    if (this.seenFolders === "") this.seenFolders = folders;
    else if (folders !== this.seenFolders) {
      this.seenFolders = folders;
      this.reloading = this.idle()
        .then(() => this.reloadCertificates())
        .finally(() => {
          this.reloading = undefined;
        });
      await this.reloading;
    }
    this.checking++;
    try {
      return await check();
    } finally {
      if (--this.checking === 0) this.whenIdle?.();
    }
  }

  private idle(): Promise<void> {
    if (this.checking === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.whenIdle = () => {
        this.whenIdle = undefined;
        resolve();
      };
    });
  }

  private operatorFolders(): string {
    return [this.trustedFolder, this.crlFolder, this.issuersCertFolder, this.issuersCrlFolder]
      .map((folder) => statSync(folder, { bigint: true, throwIfNoEntry: false })?.mtimeNs ?? "-")
      .join(",");
  }
  private report(der: Buffer | undefined, status: StatusCode): void {
    if (!der) return;
    let identity: ReturnType<typeof certificateIdentity>;
    try {
      identity = certificateIdentity(new X509Certificate(leafOf(der)));
    } catch {
      identity = { thumbprint: "(unreadable)", subject: "", applicationUri: "" };
    }
    const trust =
      status.value === StatusCodes.BadCertificateUntrusted.value
        ? `smartgear-gateway pki trust ${identity.thumbprint}${this.trustFlags}`
        : undefined;
    const message = trust
      ? `refused a client certificate that is not trusted; to trust it: ${trust}`
      : `refused a client certificate: ${status.name}`;
    this.refusals.warn(identity.thumbprint, message, {
      ...identity,
      status: status.name,
      ...(trust ? { trust } : {}),
    });
  }
}
