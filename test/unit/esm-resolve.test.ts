// The ESM resolver shortcut (src/esm-resolve.ts): it answers only a relative .js specifier from inside
// a "type": "module" package, with the file Node would load and as an ES module; all else is Node's.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInEsmPackage } from '../../src/esm-resolve.js';

let root: string;
const url = (path: string) => pathToFileURL(join(root, path)).href;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'esm-resolve-'));
  const files: Record<string, string> = {
    'node_modules/esm/package.json': '{"type":"module","exports":{".":"./index.js"}}',
    'node_modules/esm/index.js': '',
    'node_modules/esm/lib/a.js': '',
    // A nested package.json without "type" makes its directory a CommonJS scope.
    'node_modules/esm/cjs/package.json': '{}',
    'node_modules/esm/cjs/b.js': '',
    'node_modules/plain/package.json': '{"name":"plain"}',
    'node_modules/plain/index.js': '',
    'node_modules/commonjs/package.json': '{"type":"commonjs"}',
    'node_modules/commonjs/index.js': '',
    'src/package.json': '{"type":"module"}',
    'src/app.js': '',
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('resolveInEsmPackage', () => {
  it('a relative .js import inside a "type": "module" package: that file, as an ES module', () => {
    expect(resolveInEsmPackage('./lib/a.js', url('node_modules/esm/index.js'))).toEqual({
      url: url('node_modules/esm/lib/a.js'),
      format: 'module',
    });
    expect(resolveInEsmPackage('../index.js', url('node_modules/esm/lib/a.js'))).toEqual({
      url: url('node_modules/esm/index.js'),
      format: 'module',
    });
  });

  it('leaves to Node a file whose nearest package.json does not say "type": "module"', () => {
    expect(resolveInEsmPackage('./cjs/b.js', url('node_modules/esm/index.js'))).toBeUndefined();
    expect(resolveInEsmPackage('./index.js', url('node_modules/plain/index.js'))).toBeUndefined();
    expect(resolveInEsmPackage('./index.js', url('node_modules/commonjs/index.js'))).toBeUndefined();
  });

  it('leaves to Node bare specifiers, other extensions, queries, and modules outside node_modules', () => {
    const parent = url('node_modules/esm/index.js');
    expect(resolveInEsmPackage('esm', parent)).toBeUndefined();
    expect(resolveInEsmPackage('node:fs', parent)).toBeUndefined();
    expect(resolveInEsmPackage('./lib/a', parent)).toBeUndefined();
    expect(resolveInEsmPackage('./lib/a.mjs', parent)).toBeUndefined();
    expect(resolveInEsmPackage('./lib/a.js?x=1', parent)).toBeUndefined();
    expect(resolveInEsmPackage('./app.js', url('src/app.js'))).toBeUndefined();
    expect(resolveInEsmPackage('./lib/a.js', undefined)).toBeUndefined();
  });

  it('gives the file of a relative import in drizzle-orm, which imports as an ES module', async () => {
    // The whole server's module graph goes through it in the CLI tests (they start dist/cli.js).
    const parent = import.meta.resolve('drizzle-orm');
    const shortcut = resolveInEsmPackage('./column.js', parent);
    expect(shortcut?.url).toBe(new URL('./column.js', parent).href);
    expect(shortcut?.format).toBe('module');
    await expect(import(shortcut?.url ?? '')).resolves.toBeDefined();
  });
});
