import { Ajv, type ValidateFunction } from "ajv";

/**
 * The one place that compiles a JSON Schema (the configuration, both catalogs, the users file), so
 * that every file the user writes is checked with the same options: every error at once, and
 * strict mode, which catches mistakes in the schema itself. Error texts come from ajv's words,
 * located in the YAML by shared/yaml-source.
 */
// verbose: an error carries the schema it broke, whose known keys answer an unknown one with "did you mean".
const checking = new Ajv({ allErrors: true, strict: true, verbose: true });
// useDefaults is an option of the instance: a schema that fills in what the file leaves out needs its own.
const filling = new Ajv({ allErrors: true, strict: true, verbose: true, useDefaults: true });

export interface CompileOptions {
  /** Fill every key the data leaves out with the schema's `default` (the configuration does). */
  fillDefaults?: boolean;
}

/**
 * compileSchema when first needed: compiling is ~40-190 ms a schema on a cold start, and at `run`
 * the schemas are compiled off the main thread (app/setup-thread.ts), which must not pay for them
 * again by importing the module that checks with them.
 */
export function compileOnFirstUse<T>(
  schema: object,
  options: CompileOptions = {},
): () => ValidateFunction<T> {
  let compiled: ValidateFunction<T> | null = null;
  return () => {
    compiled ??= compileSchema<T>(schema, options);
    return compiled;
  };
}

/** A validator of `schema`; throws at once if the schema itself is not valid in strict mode. */
export function compileSchema<T>(schema: object, options: CompileOptions = {}): ValidateFunction<T> {
  return (options.fillDefaults ? filling : checking).compile<T>(schema);
}
