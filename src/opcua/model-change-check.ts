import { createRequire } from "node:module";

type Check = (node: unknown) => void;
const require = createRequire(import.meta.url);
/** node-opcua 2.182's namespace calls this module's export, looked up at each call, for every node it creates. */
const tools = require("node-opcua-address-space/dist/impl/address_space_change_event_tools.js") as {
  _handle_model_change_event: Check;
};
const check = tools._handle_model_change_event;
let skipping = false;
tools._handle_model_change_event = (node) => {
  if (!skipping) check(node);
};

/**
 * Creates nodes in `create` without node-opcua's model-change check.
 *
 * For each node created, node-opcua looks for a parent with a NodeVersion property, whose
 * change it would announce by a GeneralModelChangeEvent; to ask, it first resolves the new
 * node's type definition and its Organizes parents: ~4 µs a node, 0.4 s of building 100,000
 * points. Only for nodes whose parents have no NodeVersion, which is none of the mirrored tree's,
 * so leaving the check out changes nothing a client sees.
 */
export function withoutModelChangeCheck<T>(create: () => T): T {
  skipping = true;
  try {
    return create();
  } finally {
    skipping = false;
  }
}
