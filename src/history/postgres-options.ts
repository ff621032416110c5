import type { GatewayConfig } from "../config/config-types.js";
import type { PostgresShippingCounters } from "../mapping/counters.js";
import { SecretFiles } from "../security/secret-files.js";
import { ProblemsError } from "../shared/errors.js";
import type { PostgresThreadOptions } from "./postgres-forwarder.js";

/** A connection attempt that gets no answer is given up after this (then retried). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * history.postgres as the history thread needs it, its password and TLS files read now, at start
 * (all problems at once, as for MQTT). Throws ProblemsError E_POSTGRES_SECRETS.
 */
export function loadPostgresOptions(pg: GatewayConfig["history"]["postgres"]): PostgresThreadOptions {
  const files = new SecretFiles();
  const password = pg.passwordFile
    ? files.text("history.postgres.passwordFile", pg.passwordFile)
    : pg.password;
  const t = pg.tls;
  const ca = files.bytes("history.postgres.tls.caFile", t.caFile);
  const cert = files.bytes("history.postgres.tls.certFile", t.certFile);
  const key = files.bytes("history.postgres.tls.keyFile", t.keyFile);
  if (files.problems.length > 0)
    throw new ProblemsError("E_POSTGRES_SECRETS", "cannot read the PostgreSQL credentials", files.problems);
  return {
    connection: {
      host: pg.host,
      port: pg.port,
      database: pg.database,
      user: pg.user,
      password,
      ssl: t.enabled ? { ca, cert, key, rejectUnauthorized: t.rejectUnauthorized } : false,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // A statement without an answer (a server gone without a FIN) fails after this, and is retried
      // on a new connection. A batch of 20,000 values takes well under a second on a healthy server.
      query_timeout: pg.queryTimeout * 1000,
      keepAlive: true,
      application_name: `smartgear-gateway ${pg.gateway}`,
    },
    schema: pg.schema,
    gateway: pg.gateway,
    batchSize: pg.batchSize,
    maxBacklog: pg.maxBacklog,
    retentionDays: pg.retentionDays,
    compressAfterDays: pg.compressAfterDays,
  };
}

/** The forwarder's figures before it has done anything. */
export function noShippingYet(): PostgresShippingCounters {
  return {
    shipped: 0,
    backlog: 0,
    lastSuccess: 0,
    unreachableSince: 0,
    lastError: "",
    mode: "",
    errors: { connect: 0, schema: 0, ship: 0 },
    droppedByAge: 0,
    droppedByBacklog: 0,
    droppedRejected: 0,
  };
}
