// Prints vitest's JSON report as the plain closing lines CI systems read: one line per skipped test
// (so that a check that could not run, e.g. the PyTorch one without torch, is visible), then
// "tests: N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const seen = new Set();
for (const file of report.testResults ?? []) {
  for (const test of file.assertionResults ?? []) {
    if (!['pending', 'skipped', 'todo'].includes(test.status)) continue;
    // The same test runs once per backend project; name it once.
    const line = `skipped: ${relative(process.cwd(), file.name)} > ${test.fullName ?? test.title}`;
    if (seen.has(line)) continue;
    seen.add(line);
    console.log(line);
  }
}
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
process.exit(report.numFailedTests > 0 || report.numPassedTests === 0 ? 1 : 0);
