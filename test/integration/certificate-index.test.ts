import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OPCUACertificateManager } from "node-opcua";
import { readCertificate } from "node-opcua-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReportingCertificateManager } from "../../src/opcua/refused-certificates.js";
import { PkiStore } from "../../src/security/pki-store.js";
import { getLogger } from "../../src/shared/logger.js";
import { waitFor } from "../harness/wait.js";

// The server's certificate manager against its real folders and node-opcua's real file watchers,
// as `pki trust` and `pki reject` (a separate process) change them.
describe("the server's index of trusted and rejected certificates", () => {
  const root = mkdtempSync(join(tmpdir(), "smartgear-cert-index-"));
  const serverPki = join(root, "server");
  let server: ReportingCertificateManager;
  let certificate: Buffer;

  beforeAll(async () => {
    const client = new OPCUACertificateManager({ rootFolder: join(root, "client") });
    await client.initialize();
    const file = join(root, "client", "own", "certs", "client.pem");
    await client.createSelfSignedCertificate({
      subject: "/CN=index-test",
      applicationUri: "urn:smartgear:index-test",
      dns: [],
      startDate: new Date(),
      validity: 30,
      outputFile: file,
    });
    await client.dispose();
    certificate = readCertificate(file);
    server = new ReportingCertificateManager(
      { rootFolder: serverPki, automaticallyAcceptUnknownCertificate: false },
      getLogger("gateway:opcua"),
    );
    await server.initialize();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("accepts a certificate trusted at once after its refusal, before the file watcher saw it filed", async () => {
    expect((await server.checkCertificate(certificate)).name).toBe("BadCertificateUntrusted");
    // Moved out of rejected/ in the same tick as node-opcua filed it there: its watcher never saw it.
    const [filed] = new PkiStore(serverPki).list().filter((e) => e.list === "rejected");
    new PkiStore(serverPki).trust(filed!.thumbprint);
    expect((await server.checkCertificate(certificate)).name).toBe("Good");
    expect(readdirSync(join(serverPki, "rejected"))).toEqual([]);
  });

  it("refuses it again after `pki reject`", async () => {
    const [trusted] = new PkiStore(serverPki).list().filter((e) => e.list === "trusted");
    new PkiStore(serverPki).reject(trusted!.thumbprint);
    await waitFor("refused again", async () => (await server.checkCertificate(certificate)).isNotGood());
    expect((await server.checkCertificate(certificate)).name).toBe("BadCertificateUntrusted");
    expect(new PkiStore(serverPki).list().map((e) => e.list)).toEqual(["rejected"]);
  });

  it("checks that arrive while the index is read again all get the verdict of the folders", async () => {
    const [filed] = new PkiStore(serverPki).list().filter((e) => e.list === "rejected");
    new PkiStore(serverPki).trust(filed!.thumbprint);
    const verdicts = await Promise.all(
      Array.from({ length: 8 }, () => server.checkCertificate(certificate).then((s) => s.name)),
    );
    expect(verdicts).toEqual(Array(8).fill("Good"));
    expect(new PkiStore(serverPki).list().map((e) => e.list)).toEqual(["trusted"]);
  });
});
