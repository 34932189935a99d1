// Records the run's counts for scripts/test.mjs, which prints the plain closing line CI reads
// ("tests: N passed, N failed, N skipped") after everything else.
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const summary = {
      passed: results.numPassedTests,
      // A suite that fails to load has no failed tests of its own; count it so the line never hides it.
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    const file = process.env.PROVISIO_TEST_SUMMARY;
    if (file) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(summary));
    }
  }
}
module.exports = SummaryReporter;
