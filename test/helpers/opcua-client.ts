import { join } from "node:path";
import {
  AttributeIds,
  type ClientSession,
  type DataValue,
  OPCUACertificateManager,
  OPCUAClient,
  type ReferenceDescription,
} from "node-opcua";
import { TEST_PKI } from "./gateway.js";

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

/** A real node-opcua client with a session on `endpointUrl`. */
export async function connectClient(endpointUrl: string): Promise<TestClient> {
  const client = OPCUAClient.create({
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 2, initialDelay: 100, maxDelay: 500 },
    clientCertificateManager: new OPCUACertificateManager({ rootFolder: join(TEST_PKI, "client") }),
  });
  await client.connect(endpointUrl);
  const session = await client.createSession();
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
