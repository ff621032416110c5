import { resolve } from "node:path";
import {
  MessageSecurityMode,
  nodesets,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
} from "node-opcua";
import type { GatewayConfig } from "../config/config-types.js";

export const PRODUCT_URI = "urn:smartgear-gateway";

/**
 * Creates (does not start) the OPC UA server. node-opcua's defaults are open, so every security
 * setting is stated here from the configuration: policies, anonymous access, and a PKI that never
 * trusts an unknown certificate by itself.
 */
export function createOpcuaServer(config: GatewayConfig, version: string): OPCUAServer {
  const o = config.opcua;
  const policies = o.securityPolicies.map((p) => SecurityPolicy[p]);
  const hasNone = o.securityPolicies.includes("None");
  const secured = o.securityPolicies.some((p) => p !== "None");
  const securityModes = [
    ...(hasNone ? [MessageSecurityMode.None] : []),
    ...(secured ? [MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt] : []),
  ];
  return new OPCUAServer({
    port: o.port,
    resourcePath: o.resourcePath,
    ...(o.hostname ? { hostname: o.hostname, alternateHostname: [o.hostname] } : {}),
    nodeset_filename: [nodesets.standard],
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: resolve(o.pkiFolder),
      automaticallyAcceptUnknownCertificate: false,
    }),
    securityPolicies: policies,
    securityModes,
    allowAnonymous: o.allowAnonymous,
    buildInfo: {
      productName: "Sm@rtGear Gateway",
      productUri: PRODUCT_URI,
      manufacturerName: "smartgear-gateway contributors",
      softwareVersion: version,
    },
    serverInfo: {
      applicationName: { text: o.applicationName },
      productUri: PRODUCT_URI,
    },
  });
}
