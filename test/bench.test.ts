// `micronet bench`: the figures it promises, in its JSON form, on a tiny run; and its refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { BenchReport } from '../src/bench/model.js';
import { cli } from './support/cli.js';

const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'bench', ...args], { encoding: 'utf8' });

test('micronet bench --json: every configuration beside PyTorch, the folded eval, one epoch end to end', () => {
  const out = run('--device', 'cpu', '--json', '--reps', '1', '--batch', '2', '--epoch-images', '4', '--workers', '0');
  assert.equal(out.status, 0, out.stderr);
  const r = JSON.parse(out.stdout) as BenchReport;
  assert.match(r.device, /^cpu/);
  // Both sides are the same engine: the anchor's torch is the one the addon is built against.
  assert.match(r.libtorch_version, /^2\.\d+\.\d+$/);
  assert.ok(
    r.pytorch_version.startsWith(r.libtorch_version),
    `PyTorch ${r.pytorch_version} beside libtorch ${r.libtorch_version}`,
  );
  const version = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  assert.match(
    version.stdout,
    new RegExp(
      `^micronet \\d+\\.\\d+\\.\\d+\\nlibtorch ${r.libtorch_version.replace(/\./g, '\\.')} (CPU|CUDA \\d+\\.\\d+.*)\\n$`,
    ),
  );
  assert.deepEqual(
    r.configs.slice(0, 3).map((c) => c.name),
    ['NCHW fp32', 'channels_last fp32', 'channels_last bf16'],
  );
  assert.match(r.configs[3]!.name, /^(NCHW|channels_last) (fp32|bf16), eval fast path$/);
  assert.equal(r.configs.length, 4);
  const positive = (v: number | null) => typeof v === 'number' && v > 0 && Number.isFinite(v);
  for (const c of r.configs.slice(0, 3)) {
    for (const k of ['train_img_s', 'train_img_s_pytorch', 'eval_img_s', 'eval_img_s_pytorch'] as const)
      assert.ok(positive(c[k]), `${c.name} ${k}: ${c[k]}`);
  }
  const folded = r.configs[3]!;
  assert.ok(positive(folded.eval_img_s) && folded.train_img_s === null);
  assert.equal(
    folded.eval_img_s_pytorch,
    Math.max(...r.configs.slice(0, 3).map((c) => c.eval_img_s_pytorch!)),
    "folded eval is compared with PyTorch's fastest",
  );
  assert.ok(positive(r.epoch_img_s) && positive(r.epoch_img_s_pytorch));
  assert.equal(r.epoch_images, 4);
});

test('micronet bench refuses what it cannot measure', () => {
  const reps = run('--device', 'cpu', '--reps', '0');
  assert.equal(reps.status, 2);
  assert.match(reps.stderr, /--reps must be an integer >= 1/);
});
