// The audit CLI, run as a user runs it, on the legacy fixture app: the report must list exactly
// the fixture's pollers (none missed, no timer that makes no request), in JSON and in text.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { expectedFilesScanned, expectedPollers, expectedTotals } from './fixture-expected.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/legacy-app', import.meta.url));

/** @returns {Promise<{ code: number, stdout: string, stderr: string }>} */
function run(args, cwd = FIXTURE) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd }, (error, stdout, stderr) => {
      resolve({ code: error ? /** @type {number} */ (error.code) : 0, stdout, stderr });
    });
  });
}

describe('job-events-audit on fixtures/legacy-app', () => {
  it('--json lists exactly the fixture pollers, with their verdicts', async () => {
    const { code, stdout, stderr } = await run(['src', '--json']);
    assert.equal(stderr, '');
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.deepEqual(report.pollers, expectedPollers);
    assert.deepEqual(report.totals, expectedTotals);
    assert.equal(report.filesScanned, expectedFilesScanned);
    assert.equal(report.filesWithPollers, 12);
    assert.deepEqual(report.errors, []);
    assert.equal(report.replacement, 'pollJobStatus() or watchJob() from job-events');
  });

  it('prints the text report shown in the client README', async () => {
    const { code, stdout } = await run(['src']);
    assert.equal(code, 0);
    assert.equal(stdout, await readFile(new URL('./fixture-report.txt', import.meta.url), 'utf8'));
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    assert.ok(
      readme.includes('```text\n$ npx job-events-audit src\n' + stdout + '```'),
      'client/README.md shows this run',
    );
  });

  it('finds nothing in the file of timers that make no request', async () => {
    const { code, stdout } = await run([
      'src/app/widgets/no-request.component.ts',
      'src/app/widgets/activity.service.ts',
      '--json',
    ]);
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.filesScanned, 2);
    assert.deepEqual(report.pollers, []);
  });

  it('--check fails when a poller is found', async () => {
    assert.equal((await run(['src', '--check'])).code, 1);
    assert.equal((await run(['src/app/widgets/no-request.component.ts', '--check'])).code, 0);
  });

  it('a file that does not parse is reported and fails the run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-'));
    try {
      await writeFile(join(dir, 'broken.ts'), 'export class {\n');
      await writeFile(
        join(dir, 'ok.ts'),
        "import { interval } from 'rxjs';\nexport const t = interval(1000);\n",
      );
      const { code, stdout } = await run(['.', '--json'], dir);
      assert.equal(code, 1);
      const report = JSON.parse(stdout);
      assert.equal(report.filesScanned, 2);
      assert.deepEqual(report.pollers, []);
      assert.equal(report.errors.length, 1);
      assert.equal(report.errors[0].file, 'broken.ts');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2 with a message and no stack', async () => {
    const none = await run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^Usage: job-events-audit/);
    const missing = await run(['no-such-folder']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^job-events-audit: No files matching 'no-such-folder'/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
  });
});
