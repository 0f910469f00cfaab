// micronet as a package: entry points by name, typed, and a tarball with what runs and the
// native sources it builds from, no tests or benches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from './support/scratch.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};

test('the packed file list holds the built code, its types, the native sources, the examples and the licence; no tests or benches', () => {
  // --ignore-scripts: the list only (prepack would rebuild dist/ under the running tests).
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
  ) as [{ files: { path: string }[] }];
  const files = new Set(packed.files.map((f) => f.path));
  assert.deepEqual(
    [...files].filter((f) => /^(dist\/)?(test|bench)\//.test(f)),
    [],
  );
  for (const f of [
    'package.json',
    'README.md',
    'LICENSE',
    'native/binding.gyp',
    'native/libtorch.cjs',
    'native/src/addon.cc',
    'python/anchor.py',
    'python/googlenet.py',
    pkg.bin.micronet!.replace(/^\.\//, ''),
    ...readdirSync(join(root, 'examples')).map((f) => `examples/${f}`),
  ])
    assert.ok(files.has(f), f);
  // The licence file is the one package.json names.
  assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), new RegExp(`^${pkg.license} License\n`));
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue;
    for (const f of [target.types, target.default])
      assert.ok(files.has(f.replace(/^\.\//, '')), `${subpath}: ${f} is packed`);
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

test('the tarball installs offline into a fresh project: TypeScript compiles against it and refuses a misspelt model option, a GoogLeNet forward pass runs, CommonJS requires it, the installed CLI answers', () => {
  const dir = scratchDir();
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root, stdio: 'ignore' }); // dist/ is built already
  const project = join(dir, 'app');
  mkdirSync(project);
  // npm 11 runs a dependency's install script once the project approves it.
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module', allowScripts: { micronet: true } }),
  );
  // The install script copies this checkout's addon (built against the same libtorch) instead of
  // compiling; a relative MICRONET_ADDON is taken from where npm runs.
  const addon = relative(project, join(root, 'native', 'build', 'Release', 'micronet_native.node'));
  // Its dependencies from this checkout too, packed, so that nothing is fetched.
  const dependencies = Object.keys(pkg.dependencies).map((name) =>
    join(
      dir,
      execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, join(root, 'node_modules', name)], {
        cwd: dir,
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .at(-1)!,
    ),
  );
  // The README's offline recipe: --offline alone (the optional onnxruntime-node, not cached, is left out).
  execFileSync('npm', ['install', '--offline', ...dependencies, join(dir, `${pkg.name}-${pkg.version}.tgz`)], {
    cwd: project,
    env: { ...process.env, MICRONET_ADDON: addon },
    stdio: 'pipe',
  });
  writeFileSync(
    join(project, 'main.ts'),
    `import * as T from 'micronet/torch';
import { buildModel } from 'micronet/models';
using model = buildModel('googlenet').model;
// Type-checked, never run: the installed types know googlenet's options, and 'widht' is not one.
// @ts-expect-error
const typo = () => buildModel('googlenet', { widht: 0.5 });
void typo;
using x = T.zeros([2, 3, 32, 32]);
using logits = T.noGrad(() => model.forward(x, false));
const shape: readonly number[] = logits.shape;
console.log(JSON.stringify({ shape, parameters: model.numParameters() }));
`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        lib: ['ES2022', 'DOM', 'ESNext.Disposable'],
        types: [],
      },
      files: ['main.ts'],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], {
    encoding: 'utf8',
  });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  const ran = spawnSync(process.execPath, [join(project, 'main.js')], { encoding: 'utf8' });
  assert.equal(ran.status, 0, ran.stderr);
  assert.deepEqual(JSON.parse(ran.stdout), { shape: [2, 100], parameters: 6_258_500 });
  // From CommonJS: require() loads it where Node loads ES modules synchronously (20.19 and later:
  // micronet has no top-level await); before, Node refuses by name and import() is the way.
  writeFileSync(join(project, 'cjs.cjs'), "console.log(require('micronet/models').modelNames().join(','));\n");
  const required = spawnSync(process.execPath, [join(project, 'cjs.cjs')], { encoding: 'utf8' });
  if ((process.features as { require_module?: boolean }).require_module) {
    assert.equal(required.status, 0, required.stderr);
    assert.match(required.stdout, /^googlenet,/);
  } else assert.match(required.stderr, /ERR_REQUIRE_ESM/);
  const help = spawnSync(join(project, 'node_modules', '.bin', 'micronet'), ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /usage: micronet <command>/);

  // Without its addon (an install whose script did not run), importing says what to run.
  rmSync(join(project, 'node_modules', 'micronet', 'native', 'build'), { recursive: true });
  const bare = spawnSync(process.execPath, [join(project, 'main.js')], { encoding: 'utf8' });
  assert.notEqual(bare.status, 0);
  assert.match(
    bare.stderr,
    /cannot load the native engine .*`npm rebuild micronet`.*`npm install-scripts approve micronet`/,
  );
});

/** A copy of the install script in a directory of its own, so that nothing it writes reaches this checkout. */
function installScript(): string {
  const native = join(scratchDir(), 'native');
  mkdirSync(native);
  copyFileSync(join(root, 'native', 'install.cjs'), join(native, 'install.cjs'));
  return join(native, 'install.cjs');
}

test('a MICRONET_ADDON that is not a loadable micronet addon is refused, saying what it must name', () => {
  const script = installScript();
  const cases: [string, RegExp][] = [
    [join(dirname(script), 'missing.node'), /does not exist/],
    [root, /is not a file/],
    [join(root, 'package.json'), /does not load \(.*invalid ELF header\)/],
  ];
  // Another package's addon loads but is not micronet's (where the optional onnxruntime-node is installed).
  const binding = join(
    root,
    'node_modules',
    'onnxruntime-node',
    'bin',
    'napi-v6',
    'linux',
    'x64',
    'onnxruntime_binding.node',
  );
  if (existsSync(binding)) cases.push([binding, /is not micronet's addon/]);
  for (const [given, why] of cases) {
    const r = spawnSync(process.execPath, [script], {
      encoding: 'utf8',
      env: { ...process.env, MICRONET_ADDON: given },
    });
    assert.equal(r.status, 1, given);
    assert.match(r.stderr, new RegExp(`^micronet install: MICRONET_ADDON=${given.replace(/[.\\/]/g, '\\$&')} `));
    assert.match(r.stderr, why);
    assert.match(r.stderr, /must name a micronet_native\.node built against the same libtorch/);
    assert.ok(!existsSync(join(dirname(script), 'build')), 'nothing copied');
  }
});

test("the install script builds against the running node's own headers where it has them (no download), unless npm names some", () => {
  const script = installScript();
  // A node-gyp that records its arguments instead of building.
  const bin = scratchDir();
  writeFileSync(join(bin, 'node-gyp'), '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$(dirname "$0")/args"\n');
  chmodSync(join(bin, 'node-gyp'), 0o755);
  const args = (nodedir?: string) => {
    const { MICRONET_ADDON: _, npm_config_nodedir: __, ...env } = process.env;
    const r = spawnSync(process.execPath, [script], {
      encoding: 'utf8',
      env: { ...env, PATH: `${bin}:${env.PATH}`, ...(nodedir ? { npm_config_nodedir: nodedir } : {}) },
    });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(join(bin, 'args'), 'utf8').trim().split('\n');
  };
  const prefix = join(dirname(process.execPath), '..');
  const own = existsSync(join(prefix, 'include', 'node', 'common.gypi')) ? [`--nodedir=${prefix}`] : [];
  assert.deepEqual(args(), ['rebuild', '--directory', dirname(script), '-j', '2', ...own]);
  assert.deepEqual(args('/somewhere'), ['rebuild', '--directory', dirname(script), '-j', '2']);
});
