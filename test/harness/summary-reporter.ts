import type { Reporter, TestCase, TestModule } from "vitest/node";
import { installHint, type Tool, toolMissing } from "./tools.js";

/** Whether a hook or the collection of `test`'s file or suites failed, so that the test never ran. */
function brokenAround(test: TestCase): boolean {
  for (let parent = test.parent; ; parent = parent.parent) {
    if (parent.errors().length > 0) return true;
    if (parent.type === "module") return false;
  }
}

/**
 * Ends the run with one plain line, `Tests: N passed, N failed, N skipped`, that any CI can read
 * whatever it knows of vitest's own summary. A test that could not run because its file did not
 * load or a beforeAll failed counts as failed, as does a file that failed before any test was
 * collected. Where tests were skipped for a missing tool (harness/tools.ts), one more line names
 * their files and the command that brings them back.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const skippedFor = new Map<Tool, Map<string, number>>();
    for (const m of testModules) {
      const tests = [...m.children.allTests()];
      if (tests.length === 0 && m.errors().length > 0) counts.failed++;
      for (const t of tests) {
        const state = t.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed" || (t.options.mode === "run" && brokenAround(t))) counts.failed++;
        else {
          counts.skipped++;
          const tool = t.meta().needs;
          if (tool && toolMissing(tool)) {
            const files = skippedFor.get(tool) ?? new Map<string, number>();
            files.set(m.relativeModuleId, (files.get(m.relativeModuleId) ?? 0) + 1);
            skippedFor.set(tool, files);
          }
        }
      }
    }
    let out = `\nTests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`;
    for (const [tool, files] of skippedFor) {
      const list = [...files].map(([file, n]) => `${file} (${n})`).join(", ");
      out += `Skipped, ${tool} not on PATH: ${list}. Brought back by: ${installHint(tool)}\n`;
    }
    process.stdout.write(out);
  }
}
