// @ts-check
/**
 * The audit behind `job-events-audit`: runs job-events/no-unbounded-polling through ESLint's
 * Node API over a source tree and turns its messages into a report. The rule is the one place
 * where pollers are recognised; this file only collects and formats.
 */
import { relative } from 'node:path';

import plugin from './index.js';
import { REPLACEMENT, parseMessage } from './rules/no-unbounded-polling.js';

export const RULE_ID = 'job-events/no-unbounded-polling';
export const FILES = ['**/*.ts', '**/*.mts', '**/*.cts', '**/*.js', '**/*.mjs', '**/*.cjs'];
export const IGNORES = [
  '**/node_modules/**',
  '**/dist/**',
  '**/*.d.ts',
  '**/*.spec.ts',
  '**/*.test.ts',
  '**/*.spec.js',
  '**/*.test.js',
];

/** @typedef {import('./analysis.js').Verdict} Verdict */

/**
 * @typedef {object} Poller
 * @property {string} file Relative to the working directory, with `/`.
 * @property {number} line
 * @property {number} column
 * @property {string} mechanism
 * @property {string} request
 * @property {Verdict} timeout
 * @property {Verdict} cleanup
 * @property {Verdict} backoff
 */

/**
 * @typedef {object} Report
 * @property {number} filesScanned
 * @property {number} filesWithPollers
 * @property {Poller[]} pollers
 * @property {{ pollers: number, withoutTimeout: number, withoutCleanup: number, cleanupLeftToCaller: number, withoutBackoff: number, complete: number }} totals
 * @property {Array<{ file: string, line: number, message: string }>} errors Files that could not be read.
 * @property {string} replacement
 */

/**
 * @param {string[]} paths Files, folders or globs.
 * @param {{ cwd?: string }} [options]
 * @returns {Promise<Report>}
 */
export async function audit(paths, options = {}) {
  const cwd = options.cwd ?? process.cwd();
  const [{ ESLint }, tsParser] = await Promise.all([
    import('eslint'),
    import('@typescript-eslint/parser'),
  ]);
  const eslint = new ESLint({
    cwd,
    overrideConfigFile: true, // the project's own lint config plays no part in the inventory
    overrideConfig: [
      { ignores: IGNORES },
      {
        files: FILES,
        languageOptions: { parser: tsParser.default ?? tsParser, sourceType: 'module' },
        linterOptions: { reportUnusedDisableDirectives: 'off', noInlineConfig: true },
        plugins: { 'job-events': plugin },
        rules: { [RULE_ID]: 'warn' },
      },
    ],
  });
  const results = await eslint.lintFiles(paths);
  /** @type {Poller[]} */
  const pollers = [];
  /** @type {Report['errors']} */
  const errors = [];
  for (const result of results) {
    const file = relative(cwd, result.filePath).split('\\').join('/');
    for (const m of result.messages) {
      if (m.fatal || m.ruleId !== RULE_ID) {
        errors.push({ file, line: m.line ?? 0, message: m.message });
        continue;
      }
      const parsed = parseMessage(m.message);
      if (!parsed) {
        errors.push({ file, line: m.line, message: `unreadable finding: ${m.message}` });
        continue;
      }
      const { replacement: _, ...finding } = parsed;
      pollers.push({ file, line: m.line, column: m.column, ...finding });
    }
  }
  pollers.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  return {
    filesScanned: results.length,
    filesWithPollers: new Set(pollers.map((p) => p.file)).size,
    pollers,
    totals: {
      pollers: pollers.length,
      withoutTimeout: pollers.filter((p) => p.timeout.ok === false).length,
      withoutCleanup: pollers.filter((p) => p.cleanup.ok === false).length,
      cleanupLeftToCaller: pollers.filter((p) => p.cleanup.ok === null).length,
      withoutBackoff: pollers.filter((p) => p.backoff.ok === false).length,
      complete: pollers.filter((p) => p.timeout.ok && p.cleanup.ok && p.backoff.ok).length,
    },
    errors,
    replacement: REPLACEMENT,
  };
}

/** @param {string} name @param {Verdict} v */
function verdict(name, v) {
  if (v.ok === true) return `${name} yes (${v.how})`;
  return v.ok === false
    ? `${name} NO${v.how === 'none' ? '' : ` (${v.how})`}`
    : `${name} left to the caller`;
}

/** @param {number} n @param {string} one @param {string} [many] */
function count(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * @param {Report} report
 * @returns {string} The report for a terminal.
 */
export function formatText(report) {
  const t = report.totals;
  const lines = [
    `job-events-audit: ${count(t.pollers, 'poller')} in ${count(report.filesWithPollers, 'file')} (${report.filesScanned} scanned)`,
  ];
  if (t.pollers > 0) {
    for (const p of report.pollers) {
      lines.push('', `${p.file}:${p.line}:${p.column}  ${p.mechanism} → ${p.request}`);
      lines.push(
        `    ${[verdict('timeout', p.timeout), verdict('cleanup', p.cleanup), verdict('backoff', p.backoff)].join(' · ')}`,
      );
    }
    lines.push(
      '',
      `${count(t.withoutTimeout, 'poller')} without a timeout, ${t.withoutCleanup} without a cleanup (and ${t.cleanupLeftToCaller} left to the caller), ${t.withoutBackoff} without a backoff; ${t.complete} with all three.`,
      `Move each to ${report.replacement}: the ones without a timeout first.`,
    );
  }
  for (const e of report.errors) lines.push(`error: ${e.file}:${e.line}: ${e.message}`);
  return lines.join('\n') + '\n';
}
