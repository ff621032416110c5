/**
 * What the parts of one bench run share, passed to each of them: the bench keeps no state in its
 * modules, so that each step reads what it needs from here and nothing leaks between runs.
 */
import type { Catalog } from "../../src/model/catalog-types.js";
import type { BenchProcesses } from "./children.js";
import type { Layout } from "./common.js";
import type { Machine } from "./machine.js";
import type { BenchOptions } from "./options.js";

export interface BenchContext {
  readonly opts: BenchOptions;
  readonly machine: Machine;
  readonly catalog: Catalog;
  readonly layout: Layout;
  /** Every process the run started, stopped however the run ends. */
  readonly processes: BenchProcesses;
  /** The OPC UA PKI folder of the bench's gateways and client. */
  readonly pki: string;
  /** Lines printed under the results ("Note: …"), in the order they were found. */
  readonly notes: string[];
  /** A progress line, to stderr: stdout is the table and the JSON. */
  log(line: string): void;
  /** Messages the publisher sent in every step so far: where the next step's backlog starts. */
  published: number;
}
