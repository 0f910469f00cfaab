// micronet as a package: entry points by name, typed, and a tarball with what runs and the
// native sources it builds from, no tests or benches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, string | { types: string; default: string }>; bin: Record<string, string> };

test('the packed file list holds the built code, its types and the native sources; no tests or benches', () => {
  // --ignore-scripts: the list only (prepack would rebuild dist/ under the running tests).
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })) as [{ files: { path: string }[] }];
  const files = new Set(packed.files.map((f) => f.path));
  assert.deepEqual([...files].filter((f) => /(^|\/)(test|bench)\//.test(f)), []);
  for (const f of ['package.json', 'README.md', 'native/binding.gyp', 'native/libtorch.cjs', 'native/src/addon.cc', pkg.bin.micronet!.replace(/^\.\//, '')]) assert.ok(files.has(f), f);
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue;
    for (const f of [target.types, target.default]) assert.ok(files.has(f.replace(/^\.\//, '')), `${subpath}: ${f} is packed`);
  }
});

test('the entry points import by name; nothing else is reachable', async () => {
  const models = await import('micronet/models');
  const T = await import('micronet/torch');
  using model = models.buildModel('googlenet', { width: 0.0625 }).model;
  const logits = T.tidy(() => T.noGrad(() => model.forward(T.zeros([2, 3, 32, 32]), false).shape));
  assert.deepEqual(logits, [2, 100]);
  const root = await import('micronet');
  assert.equal(typeof root.score.scoreModel, 'function');
  assert.equal(typeof root.train.train, 'function');
  await assert.rejects(import('micronet/dist/src/io/zip.js' as string), /ERR_PACKAGE_PATH_NOT_EXPORTED|not exported/);
});
