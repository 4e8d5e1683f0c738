// Reads the client's TypeScript for the Python tests, with the client's own compiler
// (client/node_modules/typescript), so the tests see the code the library ships.
//
//   node typescript.mjs declarations FILE.ts   exported interfaces, type aliases and string-valued
//                                              `as const` objects, as JSON
//   node typescript.mjs call FILE.ts CALLS     CALLS = JSON [[fn, ...args], ...]; the results, as JSON
//   node typescript.mjs run FILE.ts ARG        bundles FILE.ts with its imports (the client's esbuild
//                                              and node_modules), calls its default export with the
//                                              JSON ARG; the result, as JSON
//
// `call` transpiles FILE.ts alone, so it works for a module without imports (backoff.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const client = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'client');
const ts = createRequire(join(client, 'package.json'))('typescript');

const [command, file, calls] = process.argv.slice(2);
const text = readFileSync(file, 'utf8');

function exported(node) {
  return (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

function declarations() {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const interfaces = {};
  const aliases = {};
  const constants = {};
  for (const node of source.statements) {
    if (!exported(node)) continue;
    if (ts.isVariableStatement(node)) {
      // `export const NAME = { KEY: 'value', ... } as const`: {NAME: {KEY: 'value'}}.
      for (const declaration of node.declarationList.declarations) {
        let value = declaration.initializer;
        if (value && ts.isAsExpression(value)) value = value.expression;
        if (!value || !ts.isObjectLiteralExpression(value)) continue;
        const entries = value.properties.map((p) =>
          ts.isPropertyAssignment(p) && ts.isStringLiteral(p.initializer)
            ? [p.name.getText(source), p.initializer.text]
            : null,
        );
        if (entries.every((e) => e !== null)) constants[declaration.name.getText(source)] = Object.fromEntries(entries);
      }
    } else if (ts.isInterfaceDeclaration(node)) {
      const fields = {};
      for (const member of node.members) {
        if (!ts.isPropertySignature(member)) continue;
        fields[member.name.getText(source)] = {
          optional: member.questionToken !== undefined,
          type: member.type ? member.type.getText(source).replace(/\s+/g, ' ') : 'any',
        };
      }
      interfaces[node.name.text] = {
        extends: (node.heritageClauses ?? []).flatMap((h) => h.types.map((t) => t.getText(source))),
        fields,
      };
    } else if (ts.isTypeAliasDeclaration(node)) {
      const type = node.type;
      const members = ts.isUnionTypeNode(type) ? type.types : [type];
      const literals = members.every(
        (m) => ts.isLiteralTypeNode(m) && ts.isStringLiteral(m.literal),
      )
        ? members.map((m) => m.literal.text)
        : null;
      aliases[node.name.text] = { type: type.getText(source).replace(/\s+/g, ' '), literals };
    }
  }
  return { interfaces, aliases, constants };
}

async function call() {
  const js = ts.transpileModule(text, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const module = await import('data:text/javascript;base64,' + Buffer.from(js).toString('base64'));
  return JSON.parse(calls).map(([name, ...args]) => module[name](...args));
}

async function run() {
  const esbuild = createRequire(join(client, 'package.json'))('esbuild');
  const bundle = await esbuild.build({
    entryPoints: [file],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'error',
    nodePaths: [join(client, 'node_modules')],
  });
  const dir = mkdtempSync(join(tmpdir(), 'typescript-mjs-'));
  try {
    const out = join(dir, 'bundle.mjs');
    writeFileSync(out, bundle.outputFiles[0].contents);
    const module = await import(pathToFileURL(out).href);
    return module.default(JSON.parse(calls));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const commands = { declarations, call, run };
if (!(command in commands)) throw new Error(`unknown command ${command}`);
const result = await commands[command]();
process.stdout.write(JSON.stringify(result));
