// Reads the client's TypeScript for the Python tests, with the client's own compiler
// (client/node_modules/typescript), so the tests see the code the library ships.
//
//   node typescript.mjs declarations FILE.ts   exported interfaces and type aliases, as JSON
//   node typescript.mjs call FILE.ts CALLS     CALLS = JSON [[fn, ...args], ...]; the results, as JSON
//
// `call` transpiles FILE.ts alone, so it works for a module without imports (backoff.ts).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  for (const node of source.statements) {
    if (!exported(node)) continue;
    if (ts.isInterfaceDeclaration(node)) {
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
      const literals = members.every((m) => ts.isLiteralTypeNode(m) && ts.isStringLiteral(m.literal))
        ? members.map((m) => m.literal.text)
        : null;
      aliases[node.name.text] = { type: type.getText(source).replace(/\s+/g, ' '), literals };
    }
  }
  return { interfaces, aliases };
}

async function call() {
  const js = ts.transpileModule(text, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const module = await import('data:text/javascript;base64,' + Buffer.from(js).toString('base64'));
  return JSON.parse(calls).map(([name, ...args]) => module[name](...args));
}

const result = command === 'declarations' ? declarations() : await call();
process.stdout.write(JSON.stringify(result));
