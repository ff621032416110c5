import { createRequire } from "node:module";
import type { StatusCode } from "node-opcua";
import { DataType, Variant } from "../../shared/node-opcua.js";

/** The trailing input argument of every command method that a client may leave out. */
export const COMMAND_ID_ARGUMENT = "CommandId";

interface ArgumentCheck {
  inputArgumentResults: StatusCode[];
  statusCode: StatusCode;
}

type Verify = (
  addressSpace: unknown,
  declared: { name?: string | null }[],
  given: unknown[],
) => ArgumentCheck;

interface CallResult {
  inputArgumentResults?: StatusCode[] | null;
}

type CallHelper = (
  context: unknown,
  addressSpace: unknown,
  request: { inputArguments?: unknown[] | null },
) => Promise<CallResult>;

let installed = false;

/**
 * A command method's trailing `CommandId` argument is optional (Part 3 5.7.3: optional input
 * arguments follow the others; Part 4 5.12.2.2: a client may pass fewer arguments than defined
 * when the trailing ones are optional), so that clients that call with the catalog's arguments
 * only keep working.
 *
 * node-opcua 2.182's callMethodHelper refuses any call whose argument count differs from the
 * declared one (BadArgumentsMissing), and asserts after the method ran that inputArgumentResults
 * has the declared length. So a call that leaves out exactly a trailing `CommandId` has it added,
 * empty (what the method reads as "none given"), before the count check, and its
 * inputArgumentResults are cut back to the arguments the client passed (Part 4 5.12.2.2: one per
 * input argument) once callMethodHelper is done. node-opcua reaches both functions through their
 * modules' exports at each call (the package index re-exports them as getters), where they are
 * replaced.
 */
export function acceptOmittedCommandId(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const helpers = "node-opcua-address-space/dist/api/helpers";
  const argumentList = require(`${helpers}/argument_list.js`) as { verifyArguments_ArgumentList: Verify };
  const callHelpers = require(`${helpers}/call_helpers.js`) as { callMethodHelper: CallHelper };
  const verify = argumentList.verifyArguments_ArgumentList;
  argumentList.verifyArguments_ArgumentList = (addressSpace, declared, given) => {
    if (given.length === declared.length - 1 && declared.at(-1)?.name === COMMAND_ID_ARGUMENT)
      given.push(new Variant({ dataType: DataType.String, value: "" }));
    return verify(addressSpace, declared, given);
  };
  const call = callHelpers.callMethodHelper;
  callHelpers.callMethodHelper = async (context, addressSpace, request) => {
    const passed = request.inputArguments?.length ?? 0;
    const result = await call(context, addressSpace, request);
    if ((request.inputArguments?.length ?? 0) > passed && result.inputArgumentResults)
      result.inputArgumentResults = result.inputArgumentResults.slice(0, passed);
    return result;
  };
}
