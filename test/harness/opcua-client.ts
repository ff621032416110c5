import { copyFileSync } from "node:fs";
import { join } from "node:path";
import {
  AttributeIds,
  type ClientSession,
  type DataValue,
  MessageSecurityMode,
  makeBrowsePath,
  OPCUACertificateManager,
  OPCUAClient,
  type ReferenceDescription,
  SecurityPolicy,
  type StatusCode,
  UserTokenType,
} from "node-opcua";
import { describeCertificate, PkiStore } from "../../src/security/pki-store.js";
import { TEST_PKI } from "./gateway.js";
import { waitFor } from "./wait.js";

/** Waits until the variable of `topic` shows `status`; resolves with it. */
export function waitStatus(
  client: TestClient,
  topic: string,
  status: StatusCode,
  timeoutMs?: number,
): Promise<StatusCode> {
  return waitFor(
    `${status.name} on ${topic}`,
    async () => {
      const s = (await client.read(nodeOf(topic))).statusCode;
      return s.equals(status) ? s : null;
    },
    timeoutMs,
  );
}

/** The value of the variable at `path` below `nodeId` (e.g. a condition's "/ActiveState/Id"), found by TranslateBrowsePath. */
export async function readBelow(client: TestClient, nodeId: string, path: string): Promise<DataValue> {
  const found = await client.session.translateBrowsePath(makeBrowsePath(nodeId, path));
  const target = found.targets?.[0]?.targetId;
  if (!target) throw new Error(`no ${path} below ${nodeId}`);
  return client.session.read({ nodeId: target, attributeId: AttributeIds.Value });
}

/** Namespace index of the mirrored devices (urn:smartgear-gateway:devices): always 2. */
export const NS = 2;
export const nodeOf = (topic: string) => `ns=${NS};s=${topic}`;

export interface TestClient {
  session: ClientSession;
  read(nodeId: string): Promise<DataValue>;
  browseNames(nodeId: string): Promise<string[]>;
  browse(nodeId: string): Promise<ReferenceDescription[]>;
  stop(): Promise<void>;
}

export interface ClientOptions {
  securityMode?: MessageSecurityMode;
  securityPolicy?: SecurityPolicy;
  /** A user name and password; anonymous when absent. */
  user?: { userName: string; password: string };
  /** The client's own PKI folder (its certificate); one shared per test process by default. */
  pkiFolder?: string;
  /** An application certificate and key (PEM files) to present instead of the one made in pkiFolder. */
  certificate?: { certificateFile: string; privateKeyFile: string; applicationUri: string };
  /** An X.509 user certificate (DER) and its key (PEM) to log in with, instead of `user`. */
  userCertificate?: { certificateData: Buffer; privateKey: string };
}

/** The client certificate a client with this PKI folder presents (created on its first connect). */
export const clientCertificateFile = (pkiFolder = join(TEST_PKI, "client")) =>
  join(pkiFolder, "own", "certs", "client_certificate.pem");

/**
 * The certificate manager of a test client: this process's own folder, never node-opcua's default
 * one in $HOME, which every test process running at the same time would share.
 */
export const testCertificateManager = (pkiFolder = join(TEST_PKI, "client")) =>
  new OPCUACertificateManager({ rootFolder: pkiFolder, automaticallyAcceptUnknownCertificate: true });

/** A real node-opcua client with a session on `endpointUrl` (None and anonymous by default). */
export async function connectClient(endpointUrl: string, options: ClientOptions = {}): Promise<TestClient> {
  const client = OPCUAClient.create({
    endpointMustExist: false,
    securityMode: options.securityMode ?? MessageSecurityMode.None,
    securityPolicy: options.securityPolicy ?? SecurityPolicy.None,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 500 },
    ...options.certificate,
    // The test client trusts the gateway's certificate, as an operator does when UaExpert asks.
    clientCertificateManager: testCertificateManager(options.pkiFolder),
  });
  let session: ClientSession;
  try {
    await client.connect(endpointUrl);
    session = await client.createSession(
      options.userCertificate
        ? { type: UserTokenType.Certificate, ...options.userCertificate }
        : options.user
          ? { type: UserTokenType.UserName, ...options.user }
          : { type: UserTokenType.Anonymous },
    );
  } catch (err) {
    await client.disconnect();
    throw err;
  }
  const browse = async (nodeId: string) => (await session.browse(nodeId)).references ?? [];
  return {
    session,
    read: (nodeId) => session.read({ nodeId, attributeId: AttributeIds.Value }),
    browse,
    browseNames: async (nodeId) => (await browse(nodeId)).map((r) => r.browseName.name ?? ""),
    async stop() {
      await session.close();
      await client.disconnect();
    },
  };
}

/**
 * A client over SignAndEncrypt whose certificate the gateway trusts: the first attempt is refused
 * and files the certificate in the server's rejected/, which is then trusted as an operator would.
 * node-opcua forgets a rejected certificate only when its folder watcher saw the file arrive before
 * it left (else it stays rejected until a restart): the helper lets the watcher see it first, as an
 * operator, slower than a test, always does, and on a loaded machine files it again until it has.
 */
export async function connectTrusted(
  endpointUrl: string,
  serverPki: string,
  options: ClientOptions & { pkiFolder: string },
): Promise<TestClient> {
  const secure = {
    securityMode: MessageSecurityMode.SignAndEncrypt,
    securityPolicy: SecurityPolicy.Basic256Sha256,
    ...options,
  };
  try {
    return await connectClient(endpointUrl, secure);
  } catch {
    const store = new PkiStore(serverPki);
    const certificate = clientCertificateFile(options.pkiFolder);
    const { thumbprint } = describeCertificate("rejected", certificate);
    const rejected = () => store.list().some((e) => e.list === "rejected" && e.thumbprint === thumbprint);
    await waitFor("the refused certificate in the server's rejected/", rejected);
    const deadline = Date.now() + 30_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, WATCHER_SETTLE_MS));
      store.trust(certificate);
      try {
        return await waitFor("a trusted connection", () => connectClient(endpointUrl, secure), 3_000, 250);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        // Still refused: the watcher missed the file. Filed again, it sees it; trust() then removes it.
        if (!rejected()) copyFileSync(certificate, join(serverPki, "rejected", `again-${thumbprint}.pem`));
      }
    }
  }
}

/** Time for node-opcua's chokidar watcher to register a file it did not write itself. */
const WATCHER_SETTLE_MS = 1000;
