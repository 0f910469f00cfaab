// Checkpoints: safetensors round trips, PyTorch .pth import through the CLI, and clean failures
// on truncated, corrupted and fuzzed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { encodeSafetensors, readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../src/io/safetensors.js';
import { loadModelCheckpoint, saveModelCheckpoint } from '../src/checkpoint/model-file.js';
import { readTorchFile } from '../src/checkpoint/torch-file.js';
import { buildModel } from '../src/models/registry.js';
import { scratchDir } from './support/googlenet-oracle.js';
import { torchPython } from './support/oracle.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

test('safetensors keep names, dtypes, shapes, values and metadata', () => {
  const tensors = new Map<string, T.Tensor>([
    ['a.weight', T.randn([3, 4], { generator: new T.Generator(0) })],
    ['a.count', T.tensor(new BigInt64Array([5n]), { shape: [] })],
    ['b.half', T.tensor([1.5, -2], { dtype: 'bfloat16' })],
    ['flags', T.tensor(new Uint8Array([1, 0, 1]), { dtype: 'bool' })],
    ['empty', T.zeros([0, 3])],
  ]);
  const path = join(scratchDir(), 'x.safetensors');
  writeSafetensors(path, tensors, { note: 'hello' });
  const back = readSafetensors(path);
  assert.deepEqual(back.metadata, { note: 'hello' });
  assert.deepEqual(readSafetensorsMetadata(path), { note: 'hello' }, 'the header alone gives the same metadata');
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  for (const [k, t] of tensors) {
    const u = back.tensors.get(k)!;
    assert.equal(u.dtype, t.dtype, k);
    assert.deepEqual(u.shape, t.shape, k);
    assert.deepEqual(u.data(), t.data(), k);
  }
  assert.equal((readFileSync(path).readUInt32LE(0) + 8) % 8, 0, 'data section aligned to 8 bytes');
});

test('PyTorch reads our safetensors files and we read PyTorch-written ones (oracle round trip)', () => {
  const dir = scratchDir();
  const ours = join(dir, 'ours.safetensors');
  const theirs = join(dir, 'theirs.safetensors');
  writeSafetensors(ours, new Map([['w', T.arange(6, undefined, 1, { dtype: 'float32' }).reshape([2, 3])]]));
  const script = `import sys; sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL('../../test/support/', import.meta.url)))})
from googlenet import read_safetensors, write_safetensors
t = read_safetensors(${JSON.stringify(ours)})['w']
write_safetensors(${JSON.stringify(theirs)}, {'w2': t * 2, 'i': t.long()})`;
  execFileSync(torchPython, ['-c', script]);
  const back = readSafetensors(theirs).tensors;
  assert.deepEqual(back.get('w2')!.data(), new Float32Array([0, 2, 4, 6, 8, 10]));
  assert.deepEqual(back.get('i')!.data(), new BigInt64Array([0n, 1n, 2n, 3n, 4n, 5n]));
});

test('a model checkpoint rebuilds the model it names, with its weights', () => {
  const { model, config } = buildModel('googlenet-fixed-eps', {}, { generator: new T.Generator(3) });
  const path = join(scratchDir(), 'model.safetensors');
  saveModelCheckpoint(path, model, 'googlenet-fixed-eps', config, { epoch: 3 });
  const loaded = loadModelCheckpoint(path);
  assert.equal(loaded.name, 'googlenet-fixed-eps');
  assert.deepEqual(loaded.info, { epoch: 3 });
  for (const [k, t] of model.stateDict()) assert.deepEqual(loaded.model.stateDict().get(k)!.data(), t.data(), k);
  model.dispose();
  loaded.model.dispose();
});

test('loading refuses a state dict that does not fit, listing every problem at once', () => {
  const { model } = buildModel('googlenet');
  const sd = new Map(model.stateDict());
  sd.delete('linear.bias');
  sd.set('linear.weight', T.zeros([10, 1024]));
  sd.set('extra.weight', T.zeros([1]));
  assert.throws(() => model.loadStateDict(sd, { what: 'x.pth' }),
    /cannot load state dict from x\.pth into GoogLeNet: wrong shape: linear\.weight: expected \[100, 1024\], got \[10, 1024\]\. missing: linear\.bias\. unexpected: extra\.weight/);
  model.dispose();
});

test('truncated and corrupted safetensors files fail with an error naming the file', () => {
  const tensors = new Map([['w', T.randn([8, 8])], ['b', T.zeros([8])]]);
  const good = Buffer.concat(encodeSafetensors(tensors, { m: 'x' }));
  const path = join(scratchDir(), 'bad.safetensors');
  const attempt = (bytes: Uint8Array) => {
    writeFileSync(path, bytes);
    try {
      const f = readSafetensors(path);
      return f;
    } catch (e) {
      assert.ok((e as Error).message.includes(path), (e as Error).message);
      return null;
    }
  };
  for (let cut = 0; cut < good.length; cut += 7) assert.equal(attempt(good.subarray(0, cut)), null, `truncated at ${cut}`);
  const headerEnd = 8 + Number(good.readBigUInt64LE(0));
  for (const cut of [0, 5, 8, headerEnd - 1, headerEnd + 3]) {
    writeFileSync(path, good.subarray(0, cut));
    assert.throws(() => readSafetensorsMetadata(path), (e: Error) => e.message.includes(path), `metadata of a file truncated at ${cut}`);
  }
  assert.throws(() => { writeFileSync(path, good.subarray(0, good.length - 4)); readSafetensors(path); }, /truncated file\?|bytes after|spans/);
  // Random byte flips: either a clean error or a file that still parses; never a crash or a hang.
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(good);
    for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    attempt(bytes);
  }
});

test('the import command converts the entry\'s .pth layout; truncated or fuzzed .pth files fail cleanly', () => {
  const dir = scratchDir();
  const pth = join(dir, 'entry.pth');
  // A small torch.save checkpoint in the entry's layout, written by PyTorch itself.
  const script = `import torch, sys
sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL('../../test/support/', import.meta.url)))})
from googlenet import GoogLeNet
torch.manual_seed(0)
m = GoogLeNet()
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
torch.save({'epoch': 200, 'model_state_dict': m.state_dict(), 'optimizer_state_dict': opt.state_dict()}, ${JSON.stringify(pth)})`;
  execFileSync(torchPython, ['-c', script]);
  const out = join(dir, 'entry.safetensors');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  const ok = run('import', pth, '--out', out);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /imported 515 tensors from 'model_state_dict' as googlenet, 6,258,500 parameters/);
  const loaded = loadModelCheckpoint(out);
  assert.deepEqual(loaded.info, { importedFrom: pth, epoch: 200 });
  loaded.model.dispose();

  const refused = run('import', pth, '--out', out, '--model', 'resnet');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /unknown model 'resnet'/);
  assert.equal(run('import', pth).status, 2);

  const good = readFileSync(pth);
  const bad = join(dir, 'bad.pth');
  for (const cut of [0, 3, 100, 1000, good.length >> 1, good.length - 30, good.length - 1]) {
    writeFileSync(bad, good.subarray(0, cut));
    assert.throws(() => readTorchFile(bad), (e: Error) => e.message.includes(bad), `truncated at ${cut}`);
  }
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 40; i++) {
    const bytes = Buffer.from(good);
    for (let k = 0; k < 4; k++) {
      const at = Math.floor(rand() * bytes.length);
      bytes[at] = bytes[at]! ^ (1 + Math.floor(rand() * 255));
    }
    writeFileSync(bad, bytes);
    try { T.tidy(() => { readTorchFile(bad); }); } catch (e) { assert.ok((e as Error).message.includes(bad), (e as Error).message); }
  }
});

test('a pickle that would run code is refused', () => {
  const dir = scratchDir();
  const pth = join(dir, 'evil.pth');
  execFileSync(torchPython, ['-c', `import torch, os
class Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))
torch.save({'x': Evil()}, ${JSON.stringify(pth)})`]);
  assert.throws(() => readTorchFile(pth), /refusing to load (posix|os)\.system/);
});
