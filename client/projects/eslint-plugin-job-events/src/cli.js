#!/usr/bin/env node
// @ts-check
/**
 * job-events-audit <src...> [--json] [--check]: lists the hand-written pollers under <src>, each
 * with whether it has a timeout, a cleanup and a backoff.
 * Exit status: 0 done; 1 a file could not be parsed, or --check and a poller was found; 2 usage.
 */
import { parseArgs } from 'node:util';

const USAGE = `Usage: job-events-audit <src...> [--json] [--check]

Lists the hand-written pollers in an Angular code base (interval/timer into HTTP,
setInterval or setTimeout loops around HttpClient or fetch, repeat/retry/expand loops),
with whether each has a timeout, a cleanup and a backoff.

  --json    the report as JSON
  --check   exit 1 when any poller is found (for CI)
  --help    this text

Needs eslint (9 or 10) and @typescript-eslint/parser (8) in the project:
  npm install --save-dev eslint @typescript-eslint/parser
`;

/** @param {string[]} argv @returns {Promise<number>} */
async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`${/** @type {Error} */ (e).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.positionals.length === 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  let auditModule;
  try {
    auditModule = await import('./audit.js');
    await Promise.all([import('eslint'), import('@typescript-eslint/parser')]);
  } catch (e) {
    const err = /** @type {NodeJS.ErrnoException} */ (e);
    if (err.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write(
        `job-events-audit: ${err.message.split('\n')[0]}\nInstall what it runs on: npm install --save-dev eslint @typescript-eslint/parser\n`,
      );
      return 2;
    }
    throw e;
  }
  let report;
  try {
    report = await auditModule.audit(parsed.positionals);
  } catch (e) {
    // ESLint's "No files matching the pattern" and friends: say it plainly, no stack.
    process.stderr.write(`job-events-audit: ${/** @type {Error} */ (e).message.split('\n')[0]}\n`);
    return 2;
  }
  process.stdout.write(
    parsed.values.json ? JSON.stringify(report, null, 2) + '\n' : auditModule.formatText(report),
  );
  if (report.errors.length > 0) return 1;
  return parsed.values.check && report.pollers.length > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
