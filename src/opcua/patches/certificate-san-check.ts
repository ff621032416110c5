import type { OPCUAServer } from "node-opcua";

/**
 * node-opcua 2.182 warns at start ([NODE-OPCUA-W26]) for each IP address given as
 * alternateHostname that the server certificate's subjectAltName lacks, telling a user to call
 * server.regenerateSelfSignedCertificate(). The machine's own addresses (opcua.advertiseAddresses)
 * change with the network, as node-opcua says of those it detects itself, which it leaves out of
 * the check: so are these. Part 4 6.1.3 (a host name in the certificate) stays checked for what
 * the user configured.
 */
export function spareDetectedAddresses(server: OPCUAServer, detected: readonly string[]): void {
  const check = server.checkCertificateSAN.bind(server);
  server.checkCertificateSAN = () => check().filter((missing) => !detected.includes(missing));
}
