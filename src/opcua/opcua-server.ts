import type { EventEmitter } from "node:events";
import { networkInterfaces } from "node:os";
import type { UAUserManagerBase } from "node-opcua";
import type { GatewayConfig } from "../config/config-types.js";
import { verifyPassword } from "../security/password-hash.js";
import { roleNodeIds } from "../security/roles.js";
import type { UserDef } from "../security/users.js";
import type { Logger } from "../shared/logger.js";
import {
  MessageSecurityMode,
  nodesets,
  OPCUAServer,
  RegisterServerMethod,
  SecurityPolicy,
} from "../shared/node-opcua.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";
import { HISTORY_CONTINUATION_POINTS } from "./history-read.js";
import { spareDetectedAddresses } from "./patches/certificate-san-check.js";
import { negotiateTransportLimits } from "./patches/transport-limits.js";
import { pkiFolders } from "./pki-folders.js";
import { ReportingCertificateManager } from "./refused-certificates.js";

export const PRODUCT_URI = "urn:smartgear-gateway";

/**
 * The machine's IPv4 addresses, loopback included (opcua.advertiseAddresses). A client that connects
 * by an address the endpoint does not advertise gets no ServerEndpoints in its CreateSession
 * response and makes node-opcua warn once per connection (`Cannot find suitable endpoints`); Part 4
 * 5.6.2 wants the URL's host among the server's host names. IPv6 is left out: node-opcua writes the
 * host into the URL unbracketed.
 */
function machineAddresses(): string[] {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  return [...new Set(all.filter((i) => i.family === "IPv4").map((i) => i.address))];
}

/**
 * Creates (does not start) the OPC UA server. node-opcua's defaults are open (a None endpoint,
 * anonymous access, unknown certificates trusted, unresolved permissions allowed), so every one
 * of them is set here from the configuration.
 */
export function createOpcuaServer(
  config: GatewayConfig,
  version: string,
  users: readonly UserDef[],
  logger: Logger,
): OPCUAServer {
  const o = config.opcua;
  const hasNone = o.securityPolicies.includes("None");
  const secured = o.securityPolicies.filter((p) => p !== "None");
  const byName = new Map(users.map((u) => [u.username, u]));
  const pki = pkiFolders(config);
  const userManager = {
    isValidUserAsync(
      username: string,
      password: string,
      callback: (err: Error | null, isAuthorized?: boolean) => void,
    ): void {
      const user = byName.get(username);
      const check = user?.passwordHash ? verifyPassword(password, user.passwordHash) : Promise.resolve(false);
      check.then(
        (ok) => {
          // Never the password; the user name tells an operator who failed.
          if (!ok) logger.warn("rejected user credentials", { username });
          callback(null, ok);
        },
        (err: Error) => callback(err),
      );
    },
    getUserRoles: (username: string) => roleNodeIds(byName.get(username)?.roles ?? []),
  };
  const l = o.limits;
  const detected = o.advertiseAddresses
    ? machineAddresses().filter((a) => !o.alternateHostnames.includes(a))
    : [];
  const server = new OPCUAServer({
    port: o.port,
    resourcePath: o.resourcePath,
    ...(o.hostname ? { hostname: o.hostname } : {}),
    alternateHostname: [...o.alternateHostnames, ...detected],
    nodeset_filename: [nodesets.standard],
    serverCertificateManager: new ReportingCertificateManager(
      { rootFolder: pki.applications, automaticallyAcceptUnknownCertificate: false },
      logger,
    ),
    userCertificateManager: new ReportingCertificateManager(
      { rootFolder: pki.users, automaticallyAcceptUnknownCertificate: false },
      logger,
      " --users",
    ),
    securityPolicies: [...(hasNone ? [SecurityPolicy.None] : []), ...secured.map((p) => SecurityPolicy[p])],
    securityModes: [
      ...(hasNone ? [MessageSecurityMode.None] : []),
      ...(secured.length > 0 ? [MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt] : []),
    ],
    allowAnonymous: o.allowAnonymous,
    // node-opcua's default is HIDDEN too; stated, since registering is the one thing a shard may want.
    registerServerMethod: o.discovery.register ? RegisterServerMethod.LDS : RegisterServerMethod.HIDDEN,
    discoveryServerEndpointUrl: o.discovery.url,
    userManager: userManager as unknown as UAUserManagerBase,
    unresolvedPermissionPolicy: "deny",
    maxConnectionsPerEndpoint: l.maxConnectionsPerEndpoint,
    serverCapabilities: {
      maxSessions: l.maxSessions,
      maxSubscriptionsPerSession: l.maxSubscriptionsPerSession,
      maxMonitoredItems: l.maxMonitoredItems,
      maxMonitoredItemsPerSubscription: l.maxMonitoredItemsPerSubscription,
      maxMonitoredItemsQueueSize: l.maxMonitoredItemQueueSize,
      // The variables are exception-based (MinimumSamplingInterval 0): a client asking samplingInterval
      // 0 is revised 0 and gets every change, up to its queueSize (Part 4 5.12.1.2, 5.12.1.5); node-opcua
      // would revise it to 50 ms and fold the changes of each 50 ms into one.
      minSupportedSampleRate: 0,
      maxHistoryContinuationPoints: HISTORY_CONTINUATION_POINTS,
      operationLimits: {
        maxNodesPerRead: l.maxNodesPerRead,
        maxNodesPerWrite: l.maxNodesPerWrite,
        maxNodesPerBrowse: l.maxNodesPerBrowse,
        maxNodesPerMethodCall: l.maxNodesPerMethodCall,
        maxNodesPerTranslateBrowsePathsToNodeIds: l.maxNodesPerTranslateBrowsePathsToNodeIds,
        maxMonitoredItemsPerCall: l.maxMonitoredItemsPerSubscription,
      },
    },
    transportSettings: {
      adjustTransportLimits: (hello) => negotiateTransportLimits(hello, l.maxMessageSize),
    },
    buildInfo: {
      productName: "Sm@rtGear Gateway",
      productUri: PRODUCT_URI,
      manufacturerName: "smartgear-gateway contributors",
      softwareVersion: version,
    },
    serverInfo: {
      applicationName: { text: o.applicationName },
      // Its own per member of a redundant set (ServerUriArray); node-opcua makes the certificate for it.
      ...(o.applicationUri ? { applicationUri: o.applicationUri } : {}),
      productUri: PRODUCT_URI,
    },
  });
  spareDetectedAddresses(server, detected);
  if (o.discovery.register) reportDiscoveryRegistration(server, o.discovery.url, logger);
  return server;
}

/**
 * Logs what node-opcua's RegisterServerManager does with the Local Discovery Server (Part 12 4.3):
 * it connects with the server's own certificate over the LDS's most secure endpoint, sends
 * RegisterServer2, renews every 8 minutes, retries a failed attempt every 5 s and unregisters at
 * shutdown. A failure carries no reason, so the line names the usual one.
 */
function reportDiscoveryRegistration(server: OPCUAServer, url: string, logger: Logger): void {
  const failures = new RateLimitedLog(logger, 1, 600_000);
  server.on("serverRegistered", () => logger.info("registered with the discovery server", { url }));
  server.on("serverUnregistered", () => logger.info("unregistered from the discovery server", { url }));
  // Emitted by node-opcua's manager (not in its typings) each time an attempt fails.
  (server.registerServerManager as unknown as EventEmitter | undefined)?.on("serverRegistrationFailure", () =>
    failures.warn(
      "discovery",
      "discovery server registration failed, retrying every 5 s: is it reachable at opcua.discovery.url, and does it trust our certificate?",
      { url },
    ),
  );
}
