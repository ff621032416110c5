import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Problem } from "../shared/errors.js";

/**
 * Reads the files that configuration keys name (certificates, keys, Docker secrets under
 * /run/secrets), once, at start. Paths are relative to the working directory. Every unreadable
 * file becomes a problem naming its key and file, so that start-up can list them all at once;
 * the contents never appear in a problem.
 */
export class SecretFiles {
  readonly problems: Problem[] = [];

  /** The file's bytes, or undefined (and a problem) when it cannot be read; "" names no file. */
  bytes(key: string, file: string): Buffer | undefined {
    if (!file) return undefined;
    const path = resolve(file);
    try {
      return readFileSync(path);
    } catch (err) {
      this.problem(key, path, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      return undefined;
    }
  }

  /** A secret as text, its trailing line break trimmed (an editor or `echo` adds one); never empty. */
  text(key: string, file: string): string | undefined {
    const bytes = this.bytes(key, file);
    if (bytes === undefined) return undefined;
    const text = bytes.toString("utf8").replace(/\r?\n$/, "");
    if (text.length === 0) {
      this.problem(key, resolve(file), "the file is empty");
      return undefined;
    }
    return text;
  }

  problem(key: string, path: string, message: string): void {
    this.problems.push({ file: path, line: 0, message: `${key}: ${message}` });
  }
}
