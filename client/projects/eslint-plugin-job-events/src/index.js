// @ts-check
/** eslint-plugin-job-events: finds the pollers that job-events replaces. */
import noUnboundedPolling from './rules/no-unbounded-polling.js';

/** @type {import('eslint').ESLint.Plugin & { configs: Record<string, import('eslint').Linter.Config> }} */
const plugin = {
  meta: { name: 'eslint-plugin-job-events', version: '1.0.0' },
  rules: { 'no-unbounded-polling': noUnboundedPolling },
  configs: {},
};

plugin.configs.recommended = {
  plugins: { 'job-events': plugin },
  rules: { 'job-events/no-unbounded-polling': /** @type {const} */ ('warn') },
};

export default plugin;
