import {
  chain,
  noop,
  type Rule,
  type SchematicContext,
  SchematicsException,
  type Tree,
} from '@angular-devkit/schematics';
import { addRootProvider, readWorkspace } from '@schematics/angular/utility';
import { insertImport } from '@schematics/angular/utility/ast-utils';
import { applyToUpdateRecorder } from '@schematics/angular/utility/change';
import { getAppModulePath, isStandaloneApp } from '@schematics/angular/utility/ng-ast-utils';
import { findAppConfig } from '@schematics/angular/utility/standalone/app_config';
import {
  findBootstrapApplicationCall,
  findProvidersLiteral,
  getMainFilePath,
  getSourceFile,
} from '@schematics/angular/utility/standalone/util';
import ts from '@schematics/angular/third_party/github.com/Microsoft/TypeScript/lib/typescript';

import type { Schema } from './schema.cjs';

const LIBRARY = 'job-events';
const HTTP = '@angular/common/http';
// The same rule as schema.json's pattern: the URL goes into a single-quoted string literal.
const API_URL = /^(\/|https?:\/\/)[^\s'"`\\]*$/;

/**
 * `ng add job-events`: registers `provideJobEvents({ apiUrl })`, and `provideHttpClient(withFetch())`
 * when the app has no `provideHttpClient` yet, in the providers of the app's config
 * (`app.config.ts` for a standalone app, the root NgModule otherwise). A provider that is
 * already there is left as it is, so running it again changes nothing.
 */
export function ngAdd(options: Schema): Rule {
  return async (tree: Tree, context: SchematicContext) => {
    const apiUrl = options.apiUrl ?? '/api';
    if (!API_URL.test(apiUrl)) {
      throw new SchematicsException(
        `job-events: apiUrl must be a path such as /api or an absolute http(s) URL, without quotes or spaces; got ${JSON.stringify(apiUrl)}`,
      );
    }
    const project = await applicationName(tree, options.project);
    const target = await providersTarget(tree, project);
    const source = getSourceFile(tree, target.file);
    const providers: Provider[] = [];

    if (calls(source, 'provideHttpClient')) {
      context.logger.info(`job-events: ${target.file} already provides HttpClient; kept as it is.`);
    } else {
      providers.push((ref) => `${ref('provideHttpClient', HTTP)}(${ref('withFetch', HTTP)}())`);
    }
    if (calls(source, 'provideJobEvents')) {
      context.logger.info(
        `job-events: ${target.file} already calls provideJobEvents; kept as it is (apiUrl not changed).`,
      );
    } else {
      providers.push((ref) => `${ref('provideJobEvents', LIBRARY)}({ apiUrl: '${apiUrl}' })`);
    }
    if (providers.length === 0) {
      return noop();
    }
    if (target.providers) {
      return insertIntoProviders(target.file, target.providers, providers);
    }
    // An NgModule app, or a config without a `providers: [...]` literal: the CLI's own rule.
    return chain(
      providers.map((provider) =>
        addRootProvider(project, ({ code, external }) => code`${provider(external)}`),
      ),
    );
  };
}

/** A provider's code; `ref` names an imported symbol (and has it imported). */
type Provider = (ref: (symbol: string, module: string) => string) => string;

/**
 * Adds the providers to the array, one a line at the indentation of its last element (the
 * CLI's addRootProvider puts them all on that element's line), then their imports.
 */
function insertIntoProviders(
  file: string,
  array: ts.ArrayLiteralExpression,
  providers: readonly Provider[],
): Rule {
  return (tree: Tree) => {
    const text = array.getSourceFile().text;
    const lineIndent = (position: number): string =>
      /^[ \t]*/.exec(text.slice(text.lastIndexOf('\n', position - 1) + 1))![0];
    const imports: [symbol: string, module: string][] = [];
    const expressions = providers.map((provider) =>
      provider((symbol, module) => {
        imports.push([symbol, module]);
        return symbol;
      }),
    );
    const recorder = tree.beginUpdate(file);
    const last = array.elements.at(-1);
    if (!last) {
      const indent = lineIndent(array.getStart());
      const inner = `${indent}  `;
      recorder.insertLeft(
        array.getStart() + 1,
        `\n${expressions.map((e) => `${inner}${e},\n`).join('')}${indent}`,
      );
    } else {
      const comma = /^\s*,/.exec(text.slice(last.getEnd()));
      const at = last.getEnd() + (comma ? comma[0].length : 0);
      const before = text.slice(text.lastIndexOf('\n', last.getStart() - 1) + 1, last.getStart());
      let insertion: string;
      if (/^[ \t]*$/.test(before)) {
        // One element a line: one line each, with trailing commas.
        const indent = lineIndent(last.getStart());
        insertion = (comma ? '' : ',') + expressions.map((e) => `\n${indent}${e},`).join('');
      } else {
        // All on one line: stay on it, keeping the array's own trailing-comma style.
        insertion = comma
          ? expressions.map((e) => ` ${e},`).join('')
          : `, ${expressions.join(', ')}`;
      }
      recorder.insertLeft(at, insertion);
    }
    tree.commitUpdate(recorder);

    // One import at a time, each against the file as the last one left it, so that two
    // symbols of one module share one import statement.
    for (const [symbol, module] of imports) {
      const update = tree.beginUpdate(file);
      applyToUpdateRecorder(update, [
        insertImport(getSourceFile(tree, file), file, symbol, module),
      ]);
      tree.commitUpdate(update);
    }
  };
}

/** The project to change: the one asked for, or the workspace's only application. */
async function applicationName(tree: Tree, asked: string | undefined): Promise<string> {
  const workspace = await readWorkspace(tree);
  if (asked) {
    const project = workspace.projects.get(asked);
    if (!project) {
      throw new SchematicsException(`job-events: no project named "${asked}" in angular.json`);
    }
    if (project.extensions['projectType'] !== 'application') {
      throw new SchematicsException(
        `job-events: "${asked}" is not an application; ng add job-events changes an application's providers`,
      );
    }
    return asked;
  }
  const applications = [...workspace.projects]
    .filter(([, project]) => project.extensions['projectType'] === 'application')
    .map(([name]) => name);
  if (applications.length !== 1) {
    throw new SchematicsException(
      applications.length === 0
        ? 'job-events: this workspace has no application to add job-events to'
        : `job-events: this workspace has several applications (${applications.join(', ')}); choose one with --project`,
    );
  }
  return applications[0];
}

/**
 * The file whose providers addRootProvider would edit (the app config, else main.ts, or the
 * root NgModule), and the app config's `providers` array when it has one.
 */
async function providersTarget(
  tree: Tree,
  project: string,
): Promise<{ file: string; providers: ts.ArrayLiteralExpression | null }> {
  const main = await getMainFilePath(tree, project);
  if (!tree.exists(main)) {
    throw new SchematicsException(`job-events: the main file ${main} of "${project}" is missing`);
  }
  if (!isStandaloneApp(tree, main)) {
    return { file: getAppModulePath(tree, main), providers: null };
  }
  const config = findAppConfig(findBootstrapApplicationCall(tree, main), tree, main);
  return config
    ? { file: config.filePath, providers: findProvidersLiteral(config.node) }
    : { file: main, providers: null };
}

/** Whether the file calls `name(...)` anywhere (also as `something.name(...)`). */
function calls(source: ts.SourceFile, name: string): boolean {
  const visit = (node: ts.Node): boolean => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (
        (ts.isIdentifier(callee) && callee.text === name) ||
        (ts.isPropertyAccessExpression(callee) && callee.name.text === name)
      ) {
        return true;
      }
    }
    return ts.forEachChild(node, visit) ?? false;
  };
  return visit(source);
}
