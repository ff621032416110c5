import type { DataValue, ISessionContext, StatusCode, UAVariable } from "node-opcua";

/**
 * Sends every Write of a variable's Value to `write` instead of storing it, and answers the
 * client with the status `write` resolves to.
 *
 * A mirrored variable shows what the device reports (Part 4 5.10.4: the server may apply a write
 * to the underlying system rather than store it); node-opcua 2.182 would store the written value.
 * `writeValue` is the one entry point that still has the session context (the caller's identity
 * and roles); it is called with a callback or awaited, depending on the caller inside node-opcua.
 */
export function routeWrites(
  variable: UAVariable,
  write: (context: ISessionContext, dataValue: DataValue) => Promise<StatusCode>,
): void {
  (variable as unknown as { writeValue: unknown }).writeValue = (
    context: ISessionContext,
    dataValue: DataValue,
    ...rest: unknown[]
  ) => {
    const callback = rest.at(-1);
    const result = write(context, dataValue);
    if (typeof callback !== "function") return result;
    result.then(
      (status) => callback(null, status),
      (err: Error) => callback(err),
    );
  };
}
