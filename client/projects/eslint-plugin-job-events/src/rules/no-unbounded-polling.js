// @ts-check
/**
 * job-events/no-unbounded-polling: reports every hand-written poller, with whether it has a
 * timeout, a cleanup and a backoff. Even a bounded one is reported: the migration moves each
 * poller to pollJobStatus() or watchJob(), which give all three.
 */
import { findPollers, linkParents } from '../analysis.js';

export const REPLACEMENT = 'pollJobStatus() or watchJob() from job-events';

/** @typedef {import('../analysis.js').Verdict} Verdict */

/** @param {Verdict} v */
function verdictText(v) {
  return `${v.ok === true ? 'yes' : v.ok === false ? 'no' : 'caller'} (${v.how})`;
}

const VERDICT = String.raw`(yes|no|caller) \((.*?)\)`;
const MESSAGE = new RegExp(
  String.raw`^Poller: (.+?) polls (.+?); timeout: ${VERDICT}; cleanup: ${VERDICT}; backoff: ${VERDICT}\. Move it to (.+)\.$`,
);

/**
 * Reads a finding back from this rule's message, so that the audit CLI reports exactly what
 * the rule found.
 * @param {string} message
 * @returns {{ mechanism: string, request: string, timeout: Verdict, cleanup: Verdict, backoff: Verdict, replacement: string } | null}
 */
export function parseMessage(message) {
  const m = MESSAGE.exec(message);
  if (!m) return null;
  /** @param {string} word @param {string} how @returns {Verdict} */
  const verdict = (word, how) => ({
    ok: word === 'yes' ? true : word === 'no' ? false : null,
    how,
  });
  return {
    mechanism: m[1],
    request: m[2],
    timeout: verdict(m[3], m[4]),
    cleanup: verdict(m[5], m[6]),
    backoff: verdict(m[7], m[8]),
    replacement: m[9],
  };
}

/** @type {Map<string, any>} Modules read to follow injected services, shared by the files of one run. */
const moduleCache = new Map();

/** @type {import('eslint').Rule.RuleModule} */
const rule = {
  meta: {
    type: 'suggestion',
    docs: {
      description:
        'Find hand-written polling (interval/timer into HTTP, setInterval around HttpClient or fetch, repeat/retry loops) and point it at pollJobStatus()/watchJob()',
      recommended: true,
    },
    schema: [],
    messages: {
      poller:
        'Poller: {{mechanism}} polls {{request}}; timeout: {{timeout}}; cleanup: {{cleanup}}; backoff: {{backoff}}. Move it to {{replacement}}.',
    },
  },
  create(context) {
    const parser = /** @type {any} */ (context.languageOptions.parser);
    const parserOptions = context.languageOptions.parserOptions ?? {};
    /** @type {import('../analysis.js').Parse | undefined} */
    const parse =
      parser && (parser.parseForESLint || parser.parse)
        ? (code, filename) => {
            const options = {
              ecmaVersion: 'latest',
              sourceType: 'module',
              ...parserOptions,
              filePath: filename,
              range: true,
              loc: true,
              project: undefined,
              projectService: undefined,
            };
            return parser.parseForESLint
              ? parser.parseForESLint(code, options).ast
              : parser.parse(code, options);
          }
        : undefined;
    return {
      'Program:exit'(program) {
        linkParents(program);
        for (const f of findPollers(program, {
          filename: context.filename,
          parse,
          cache: moduleCache,
        })) {
          context.report({
            node: f.node,
            messageId: 'poller',
            data: {
              mechanism: f.mechanism,
              request: f.request,
              timeout: verdictText(f.timeout),
              cleanup: verdictText(f.cleanup),
              backoff: verdictText(f.backoff),
              replacement: REPLACEMENT,
            },
          });
        }
      },
    };
  },
};

export default rule;
