import { join, resolve } from "node:path";
import type { GatewayConfig } from "../config/config-types.js";

/** The folders of the server's PKI: applications' certificates, and users' X.509 certificates. */
export function pkiFolders(config: GatewayConfig): { applications: string; users: string } {
  const root = resolve(config.opcua.pkiFolder);
  return { applications: root, users: join(root, "users") };
}
