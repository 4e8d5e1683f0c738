// The audit ships inside the job-events package: `ng build job-events` copies it into dist, the
// packed tarball holds it with a `job-events-audit` bin, and the shipped copy gives the same report.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { expectedPollers } from './fixture-expected.js';

const exec = promisify(execFile);
const CLIENT = fileURLToPath(new URL('../../..', import.meta.url));
const DIST = fileURLToPath(new URL('../../../dist/job-events', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/legacy-app', import.meta.url));

describe('job-events-audit in the job-events package', { timeout: 300_000 }, () => {
  it('is built into dist, packed with a bin, and reports the same pollers', async () => {
    await exec('npx', ['ng', 'build', 'job-events'], { cwd: CLIENT, maxBuffer: 16 << 20 });

    const manifest = JSON.parse(await readFile(`${DIST}/package.json`, 'utf8'));
    assert.deepEqual(manifest.bin, { 'job-events-audit': 'audit/cli.js' });
    assert.equal(manifest.peerDependenciesMeta.eslint.optional, true);
    assert.equal(manifest.exports['./eslint-plugin'], './audit/index.js');
    const shipped = (await import(`${DIST}/audit/index.js`)).default;
    assert.equal(typeof shipped.rules['no-unbounded-polling'].create, 'function');
    assert.equal(shipped.configs.recommended.rules['job-events/no-unbounded-polling'], 'warn');

    const { stdout: packed } = await exec(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: DIST },
    );
    const files = JSON.parse(packed)[0].files.map((/** @type {{ path: string }} */ f) => f.path);
    for (const file of [
      'audit/cli.js',
      'audit/audit.js',
      'audit/analysis.js',
      'audit/index.js',
      'audit/rules/no-unbounded-polling.js',
    ]) {
      assert.ok(files.includes(file), `${file} is in the tarball`);
    }

    const { stdout } = await exec(process.execPath, [`${DIST}/audit/cli.js`, 'src', '--json'], {
      cwd: FIXTURE,
    });
    assert.deepEqual(JSON.parse(stdout).pollers, expectedPollers);
  });
});
