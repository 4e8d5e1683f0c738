import { SchematicTestRunner, type UnitTestTree } from '@angular-devkit/schematics/testing';
import { beforeEach, describe, expect, it } from 'vitest';

import type { Schema } from './schema.cjs';

// The built package's collection (run `npm run build:job-events` first; `npm run test:schematics` does).
const COLLECTION = 'dist/job-events/schematics/collection.json';

const runner = new SchematicTestRunner('job-events', COLLECTION);

/** A workspace as `ng new` makes it, from @schematics/angular's own schematics. */
async function freshWorkspace(): Promise<UnitTestTree> {
  return runner.runExternalSchematic('@schematics/angular', 'workspace', {
    name: 'workspace',
    newProjectRoot: 'projects',
    version: '21.2.0',
  });
}

async function withApp(
  tree: UnitTestTree,
  name: string,
  options: object = {},
): Promise<UnitTestTree> {
  return runner.runExternalSchematic(
    '@schematics/angular',
    'application',
    {
      name,
      standalone: true,
      routing: false,
      skipTests: true,
      style: 'css',
      ssr: false,
      ...options,
    },
    tree,
  );
}

function snapshot(tree: UnitTestTree): Record<string, string> {
  return Object.fromEntries(tree.files.map((file) => [file, tree.readContent(file)]));
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

async function ngAdd(tree: UnitTestTree, options: Schema = {}): Promise<UnitTestTree> {
  return runner.runSchematic('ng-add', options, tree);
}

const CONFIG = '/projects/shop/src/app/app.config.ts';

describe('ng add job-events', () => {
  let app: UnitTestTree;
  let messages: string[];

  beforeEach(async () => {
    app = await withApp(await freshWorkspace(), 'shop');
    messages = [];
    runner.logger.subscribe((entry) => messages.push(entry.message));
  });

  it('adds provideJobEvents({ apiUrl }) and provideHttpClient(withFetch()) to app.config.ts', async () => {
    // runSchematic changes the tree it is given: keep what was there.
    const before = snapshot(app);
    expect(before[CONFIG]).not.toContain('provideHttpClient');

    const tree = await ngAdd(app, { apiUrl: 'https://api.example.test/api' });
    const config = tree.readContent(CONFIG);

    expect(config).toMatch(
      /import \{ provideHttpClient, withFetch \} from '@angular\/common\/http';/,
    );
    expect(config).toMatch(/import \{ provideJobEvents \} from 'job-events';/);
    const providers = config.slice(config.indexOf('providers: ['));
    expect(providers).toContain('provideHttpClient(withFetch())');
    expect(providers).toContain("provideJobEvents({ apiUrl: 'https://api.example.test/api' })");
    // What the application schematic put there stays.
    expect(providers).toContain('provideBrowserGlobalErrorListeners()');
    // Only the app config changed.
    const changed = tree.files.filter((file) => tree.readContent(file) !== before[file]);
    expect(changed).toEqual([CONFIG]);
  });

  it('changes nothing when run a second time', async () => {
    const first = snapshot(await ngAdd(app, { apiUrl: '/jobs-api' }));

    const twice = await ngAdd(app, { apiUrl: '/jobs-api' });

    expect(snapshot(twice)).toEqual(first);
    const config = twice.readContent(CONFIG);
    expect(count(config, 'provideJobEvents(')).toBe(1);
    expect(count(config, 'provideHttpClient(')).toBe(1);
    expect(count(config, "from 'job-events'")).toBe(1);
  });

  it('keeps an existing provideJobEvents and its apiUrl when asked for another one', async () => {
    const once = snapshot(await ngAdd(app, { apiUrl: '/api' }));
    const twice = await ngAdd(app, { apiUrl: 'https://elsewhere.example.test/api' });

    expect(snapshot(twice)).toEqual(once);
    expect(twice.readContent(CONFIG)).toContain("provideJobEvents({ apiUrl: '/api' })");
    expect(messages.some((m) => m.includes('already calls provideJobEvents'))).toBe(true);
  });

  it('keeps the app’s own provideHttpClient, interceptors and all, and adds no second one', async () => {
    const own = app
      .readContent(CONFIG)
      .replace('providers: [', 'providers: [\n    provideHttpClient(withInterceptors([])),')
      .replace(
        /^/,
        "import { provideHttpClient, withInterceptors } from '@angular/common/http';\n",
      );
    app.overwrite(CONFIG, own);

    const config = (await ngAdd(app)).readContent(CONFIG);

    expect(count(config, 'provideHttpClient(')).toBe(1);
    expect(config).toContain('provideHttpClient(withInterceptors([]))');
    expect(config).not.toContain('withFetch');
    expect(config).toContain("provideJobEvents({ apiUrl: '/api' })");
  });

  it('puts each provider on its own line in a one-a-line array, and stays on the line of a one-line array', async () => {
    const one = snapshot(await ngAdd(app, { apiUrl: '/api' }))[CONFIG];
    expect(one).toMatch(
      /\n    provideBrowserGlobalErrorListeners\(\),\n    provideHttpClient\(withFetch\(\)\),\n    provideJobEvents\(\{ apiUrl: '\/api' \}\),\n/,
    );

    const header = "import { ApplicationConfig } from '@angular/core';\n";
    app.overwrite(
      CONFIG,
      `${header}export const appConfig: ApplicationConfig = { providers: [a()] };\n`,
    );
    expect((await ngAdd(app)).readContent(CONFIG)).toContain(
      "{ providers: [a(), provideHttpClient(withFetch()), provideJobEvents({ apiUrl: '/api' })] }",
    );

    app.overwrite(
      CONFIG,
      `${header}export const appConfig: ApplicationConfig = {\n  providers: [],\n};\n`,
    );
    expect((await ngAdd(app)).readContent(CONFIG)).toContain(
      "  providers: [\n    provideHttpClient(withFetch()),\n    provideJobEvents({ apiUrl: '/api' }),\n  ],\n",
    );
  });

  it("uses '/api' when no URL is given", async () => {
    const config = (await ngAdd(app)).readContent(CONFIG);
    expect(config).toContain("provideJobEvents({ apiUrl: '/api' })");
  });

  it('refuses a URL that is neither a path nor http(s), or that would break the string literal', async () => {
    for (const apiUrl of ['api', 'ftp://host/api', "/api'); alert(1); ('", '/a b']) {
      await expect(ngAdd(app, { apiUrl }), apiUrl).rejects.toThrow(/apiUrl/);
    }
    expect(app.readContent(CONFIG)).not.toContain('provideJobEvents');
  });

  it('asks for the API URL', () => {
    const schematic = runner.engine.createCollection('job-events').createSchematic('ng-add', true);
    const schema = (schematic.description as { schemaJson?: unknown }).schemaJson as {
      properties: { apiUrl: { 'x-prompt': string; default: string } };
    };
    expect(schema.properties.apiUrl['x-prompt']).toMatch(/API/);
    expect(schema.properties.apiUrl.default).toBe('/api');
  });

  it('changes the application named by --project, and needs it when there are several', async () => {
    const two = await withApp(app, 'admin');

    await expect(ngAdd(two)).rejects.toThrow(/several applications \(shop, admin\)/);

    const tree = await ngAdd(two, { project: 'admin' });
    expect(tree.readContent('/projects/admin/src/app/app.config.ts')).toContain(
      'provideJobEvents(',
    );
    expect(tree.readContent(CONFIG)).not.toContain('provideJobEvents(');
  });

  it('adds the provider to the root NgModule of an app that has no app config', async () => {
    const modular = await withApp(await freshWorkspace(), 'legacy', { standalone: false });
    const module = '/projects/legacy/src/app/app-module.ts';
    expect(modular.exists(module)).toBe(true);

    const once = snapshot(await ngAdd(modular));
    expect(once[module]).toContain("provideJobEvents({ apiUrl: '/api' })");
    expect(once[module]).toContain('provideHttpClient(withFetch())');
    expect(snapshot(await ngAdd(modular))).toEqual(once);
  });
});
