// Checkpoints: safetensors round trips, PyTorch .pth import through the CLI, and clean failures
// on truncated, corrupted and fuzzed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { constants as zlibConstants, crc32, deflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import {
  encodeSafetensors,
  readSafetensors,
  readSafetensorsMetadata,
  writeSafetensors,
} from '../src/io/safetensors.js';
import { loadAnyCheckpoint, loadModelCheckpoint, saveModelCheckpoint } from '../src/checkpoint/model-file.js';
import { materialize, readTorchFile } from '../src/checkpoint/torch-file.js';
import { encodeZip } from '../src/io/zip.js';
import { buildModel } from '../src/models/registry.js';
import { planFor } from '../src/quant/prepare.js';
import { scratchDir } from './support/scratch.js';
import { torchPython } from './support/oracle.js';
import { cli } from './support/cli.js';

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
  const script = `import sys; sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL('../../python/', import.meta.url)))})
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
  assert.throws(
    () => model.loadStateDict(sd, { what: 'x.pth' }),
    /cannot load state dict from x\.pth into GoogLeNet: wrong shape: linear\.weight: expected \[100, 1024\], got \[10, 1024\]\. missing: linear\.bias\. unexpected: extra\.weight/,
  );
  model.dispose();
});

test('truncated and corrupted safetensors files fail with an error naming the file', () => {
  const tensors = new Map([
    ['w', T.randn([8, 8])],
    ['b', T.zeros([8])],
  ]);
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
  for (let cut = 0; cut < good.length; cut += 7)
    assert.equal(attempt(good.subarray(0, cut)), null, `truncated at ${cut}`);
  const headerEnd = 8 + Number(good.readBigUInt64LE(0));
  for (const cut of [0, 5, 8, headerEnd - 1, headerEnd + 3]) {
    writeFileSync(path, good.subarray(0, cut));
    assert.throws(
      () => readSafetensorsMetadata(path),
      (e: Error) => e.message.includes(path),
      `metadata of a file truncated at ${cut}`,
    );
  }
  assert.throws(() => {
    writeFileSync(path, good.subarray(0, good.length - 4));
    readSafetensors(path);
  }, /truncated file\?|bytes after|spans/);
  // Random byte flips: either a clean error or a file that still parses; never a crash or a hang.
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(good);
    for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    attempt(bytes);
  }
});

test("the import command converts the entry's .pth layout; truncated or fuzzed .pth files fail cleanly", () => {
  const dir = scratchDir();
  const pth = join(dir, 'entry.pth');
  const densePth = join(dir, 'entry-dense.pth');
  const reference = join(dir, 'entry-reference.safetensors');
  // A small torch.save checkpoint in the entry's layout, written by PyTorch itself.
  const script = `import torch, sys
sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL('../../python/', import.meta.url)))})
from googlenet import GoogLeNet, write_safetensors
torch.manual_seed(0)
m = GoogLeNet()
with torch.no_grad():
    m.linear.mask[0, :10] = 0
    for name, b in m.named_buffers():
        if name.endswith('running_var'): b.uniform_(0.5, 2)
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
sd = m.state_dict()
torch.save({'epoch': 200, 'model_state_dict': sd, 'optimizer_state_dict': opt.state_dict()}, ${JSON.stringify(pth)})
torch.save({'model_state_dict': {k: v for k, v in sd.items() if not k.endswith('.mask')}}, ${JSON.stringify(densePth)})
write_safetensors(${JSON.stringify(reference)}, sd)`;
  execFileSync(torchPython, ['-c', script]);
  const out = join(dir, 'entry.safetensors');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  const ok = run('import', pth, '--out', out);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /imported 515 tensors from 'model_state_dict' as googlenet, 6,258,500 parameters/);
  const expected = readSafetensors(reference).tensors;
  const loaded = loadModelCheckpoint(out);
  assert.deepEqual(loaded.info, { importedFrom: pth, epoch: 200 });
  for (const [k, t] of loaded.model.stateDict())
    assert.deepEqual(t.data(), expected.get(k)!.data(), `${k} imported exactly`);
  loaded.model.dispose();

  // Without masks: the count is of the file's tensors; the masks become ones.
  const dense = run('import', densePth, '--out', out);
  assert.equal(dense.status, 0, dense.stderr);
  assert.match(dense.stdout, /imported 450 tensors from 'model_state_dict'; 65 absent masks set to ones as googlenet/);
  const denseLoaded = loadModelCheckpoint(out);
  for (const [k, t] of denseLoaded.model.stateDict()) {
    if (k.endsWith('.mask'))
      assert.ok(
        t.data().every((v) => v === 1),
        `${k} is ones`,
      );
    else assert.deepEqual(t.data(), expected.get(k)!.data(), `${k} imported exactly`);
  }
  denseLoaded.model.dispose();
  for (const t of expected.values()) t.dispose();

  const refused = run('import', pth, '--out', out, '--model', 'resnet');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /unknown model 'resnet'/);
  assert.equal(run('import', pth).status, 2);

  const good = readFileSync(pth);
  const bad = join(dir, 'bad.pth');
  for (const cut of [0, 3, 100, 1000, good.length >> 1, good.length - 30, good.length - 1]) {
    writeFileSync(bad, good.subarray(0, cut));
    assert.throws(
      () => readTorchFile(bad),
      (e: Error) => e.message.includes(bad),
      `truncated at ${cut}`,
    );
  }
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 40; i++) {
    const bytes = Buffer.from(good);
    for (let k = 0; k < 4; k++) {
      const at = Math.floor(rand() * bytes.length);
      bytes[at] = bytes[at]! ^ (1 + Math.floor(rand() * 255));
    }
    writeFileSync(bad, bytes);
    try {
      T.tidy(() => {
        materialize(readTorchFile(bad));
      });
    } catch (e) {
      assert.ok((e as Error).message.includes(bad), (e as Error).message);
    }
  }
});

test('a pickle that would run code is refused', () => {
  const dir = scratchDir();
  const pth = join(dir, 'evil.pth');
  execFileSync(torchPython, [
    '-c',
    `import torch, os
class Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))
torch.save({'x': Evil()}, ${JSON.stringify(pth)})`,
  ]);
  assert.throws(() => readTorchFile(pth), /refusing to load (posix|os)\.system/);
});

// ---- Hostile torch.save files, written byte by byte ----

/** A ZIP archive of stored entries, or of raw deflate streams whose declared size is given. */
function zipArchive(items: { name: string; data: Uint8Array; deflated?: { size: number } }[]): Buffer {
  const locals: Uint8Array[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, data, deflated } of items) {
    const fields = Buffer.alloc(16);
    fields.writeUInt16LE(deflated ? 8 : 0, 0);
    fields.writeUInt32LE(deflated ? 0 : crc32(data), 4); // a bomb is refused before its CRC matters
    fields.writeUInt32LE(data.byteLength, 8);
    fields.writeUInt32LE(deflated ? deflated.size : data.byteLength, 12);
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    fields.copy(local, 8, 0, 2); // method
    fields.copy(local, 14, 4, 16); // crc, sizes
    local.writeUInt16LE(nameBytes.length, 26);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    fields.copy(entry, 10, 0, 2);
    fields.copy(entry, 16, 4, 16);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    central.push(entry, nameBytes);
    offset += local.length + nameBytes.length + data.byteLength;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(items.length, 8);
  end.writeUInt16LE(items.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A raw deflate stream of `mib` MiB of zeros, about 1 KiB per MiB, built without holding them. */
function deflateBomb(mib: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(2 ** 20), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return Buffer.concat([...Array<Buffer>(mib).fill(block), deflateRawSync(Buffer.alloc(0))]);
}

interface RefSpec {
  storage: string;
  dtype?: 'float32' | 'int64';
  numel: number;
  offset?: number;
  size: readonly number[];
  stride: readonly number[];
}

/** A pickle (protocol 2) of a dict of tensors as torch.save writes it, with any layout. */
function pickleTensors(tensors: [string, RefSpec][]): Buffer {
  const out: Buffer[] = [Buffer.from([0x80, 2, 0x7d])]; // PROTO 2, EMPTY_DICT
  const op = (...b: number[]) => out.push(Buffer.from(b));
  const str = (s: string) => {
    const b = Buffer.from(s);
    const n = Buffer.alloc(5);
    n[0] = 0x58;
    n.writeUInt32LE(b.length, 1);
    out.push(n, b);
  };
  const global = (module: string, name: string) => out.push(Buffer.from(`c${module}\n${name}\n`));
  const int = (v: number) => {
    const b = Buffer.alloc(10);
    b[0] = 0x8a;
    b[1] = 8; // LONG1 of 8 bytes covers every case
    b.writeBigInt64LE(BigInt(v), 2);
    out.push(b);
  };
  const tuple = (vs: readonly number[]) => {
    op(0x28);
    vs.forEach(int);
    op(0x74);
  };
  for (const [name, t] of tensors) {
    str(name);
    global('torch._utils', '_rebuild_tensor_v2');
    op(0x28); // MARK: the arguments
    op(0x28);
    str('storage');
    global('torch', t.dtype === 'int64' ? 'LongStorage' : 'FloatStorage');
    str(t.storage);
    str('cpu');
    int(t.numel);
    op(0x74, 0x51);
    int(t.offset ?? 0);
    tuple(t.size);
    tuple(t.stride);
    op(0x89); // requires_grad False
    global('collections', 'OrderedDict');
    op(0x29, 0x52);
    op(0x74, 0x52, 0x73); // TUPLE, REDUCE, SETITEM
  }
  op(0x2e);
  return Buffer.concat(out);
}

/**
 * A GoogLeNet state dict whose every tensor reads one zero (stride 0 over a one-element
 * storage: a valid layout that fits the model), with some entries replaced.
 */
function googlenetTensors(replace: Record<string, RefSpec>): [string, RefSpec][] {
  const { model } = buildModel('googlenet');
  const specs = [...model.stateDict()].map(([k, t]): [string, RefSpec] => [
    k,
    replace[k] ?? {
      storage: t.dtype === 'int64' ? 'i' : 'f',
      dtype: t.dtype === 'int64' ? 'int64' : 'float32',
      numel: 1,
      size: t.shape,
      stride: t.shape.map(() => 0),
    },
  ]);
  model.dispose();
  return specs;
}

const one = { f: new Uint8Array(4), i: new Uint8Array(8) };
const storedEntries = (keys: ('f' | 'i')[]) => keys.map((k) => ({ name: `x/data/${k}`, data: one[k] }));

/** Loads a checkpoint in a fresh process; its error message and peak resident memory in MiB. */
function loadInChild(path: string): { message: string; peakMiB: number } {
  const modelFile = new URL('../src/checkpoint/model-file.js', import.meta.url).href;
  // The process's own high-water mark (VmHWM): on Linux, maxRSS is carried across fork and exec,
  // so a child spawned by a large test process would report the parent's peak.
  const script = `import { readFileSync } from 'node:fs';
import { loadAnyCheckpoint } from ${JSON.stringify(modelFile)};
let message = 'loaded';
try { loadAnyCheckpoint(${JSON.stringify(path)}); } catch (e) { message = e.message; }
let maxRSS = process.resourceUsage().maxRSS;
try { maxRSS = Number(/VmHWM:\\s*(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]); } catch {}
console.log(JSON.stringify({ message, maxRSS }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const { message, maxRSS } = JSON.parse(child.stdout) as { message: string; maxRSS: number };
  return { message, peakMiB: maxRSS / 1024 };
}

test('hostile .pth files are refused before they allocate: stride-0 giants and deflate bombs', () => {
  const dir = scratchDir();
  const write = (name: string, bytes: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const linear = (spec: Partial<RefSpec>): Record<string, RefSpec> => ({
    'linear.weight': { storage: 'bomb', numel: 102400, size: [100, 1024], stride: [1024, 1], ...spec },
  });
  const bomb = deflateBomb(1024);
  const cases: { file: string; expect: RegExp }[] = [
    {
      // 4 bytes of storage viewed as [50000, 10000]: 2 GB if it were materialised before the shape check.
      file: write(
        'stride0.pth',
        zipArchive([
          {
            name: 'x/data.pkl',
            data: pickleTensors(
              googlenetTensors(linear({ storage: 'f', numel: 1, size: [50000, 10000], stride: [0, 0] })),
            ),
          },
          ...storedEntries(['f', 'i']),
        ]),
      ),
      expect: /wrong shape: linear\.weight: expected \[100, 1024\], got \[50000, 10000\]/,
    },
    {
      // A storage whose directory truly declares 1 GiB, of which the tensor needs 400 KB.
      file: write(
        'bomb-declared.pth',
        zipArchive([
          { name: 'x/data.pkl', data: pickleTensors(googlenetTensors(linear({ numel: 2 ** 28 }))) },
          ...storedEntries(['f', 'i']),
          { name: 'x/data/bomb', data: bomb, deflated: { size: 2 ** 30 } },
        ]),
      ),
      expect:
        /storage 'bomb' is compressed to \d+ bytes and would inflate to 1073741824, more than the 409600 bytes its tensors need/,
    },
    {
      // The directory declares the 400 KB the tensor needs; the stream inflates to 1 GiB.
      file: write(
        'bomb-lying.pth',
        zipArchive([
          { name: 'x/data.pkl', data: pickleTensors(googlenetTensors(linear({}))) },
          ...storedEntries(['f', 'i']),
          { name: 'x/data/bomb', data: bomb, deflated: { size: 409600 } },
        ]),
      ),
      expect: /entry 'x\/data\/bomb' inflates to more than the 409600 bytes its directory declares/,
    },
    {
      file: write('pickle-bomb.pth', zipArchive([{ name: 'x/data.pkl', data: bomb, deflated: { size: 2 ** 30 } }])),
      expect: /entry 'x\/data\.pkl' declares 1073741824 bytes, more than the 67108864 accepted/,
    },
    {
      file: write('pickle-bomb-lying.pth', zipArchive([{ name: 'x/data.pkl', data: bomb, deflated: { size: 1000 } }])),
      expect: /entry 'x\/data\.pkl' inflates to more than the 1000 bytes its directory declares/,
    },
  ];
  console.log(`files of ${cases.map(({ file }) => statSync(file).size).join(', ')} bytes`);
  for (const { file, expect } of cases) {
    const { message, peakMiB } = loadInChild(file);
    assert.ok(message.includes(file), message);
    assert.match(message, expect);
    assert.ok(peakMiB < 500, `${file}: peak resident memory ${peakMiB.toFixed(0)} MiB`);
    console.log(`${basename(file)}: refused at a peak of ${peakMiB.toFixed(0)} MiB`);
  }
});

/** A safetensors file from a header object and a data section. */
function rawSafetensors(header: Record<string, unknown>, data = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

/** The 8-bit quantization plan of a GoogLeNet (its layer names do not depend on the width). */
function planOfGoogLeNet() {
  const { model } = buildModel('googlenet', { width: 0.0625 });
  const plan = planFor(model, { weightBits: 8, actBits: 8, first: null, last: null, averagingConstant: 0.01 });
  model.dispose();
  return plan;
}

test('hostile safetensors are refused before they allocate: metadata asking for a giant model, floods of empty tensors', () => {
  const dir = scratchDir();
  const write = (name: string, bytes: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const giant = { format: 'micronet-model/1', model: 'googlenet', config: '{"numClasses":100000,"width":4}' };
  const empties = (n: number) =>
    Object.fromEntries(
      Array.from({ length: n }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }]),
    );
  const payload = Buffer.alloc(1_400_000);
  const cases = [
    {
      file: write(
        'giant.safetensors',
        rawSafetensors(
          { __metadata__: giant, 'linear.weight': { dtype: 'F32', shape: [350000], data_offsets: [0, 1_400_000] } },
          payload,
        ),
      ),
      expect: /cannot load state dict from .* wrong shape: linear\.weight: expected \[100000, 4096\], got \[350000\]/,
    },
    {
      file: write(
        'giant-quantized.safetensors',
        rawSafetensors(
          {
            __metadata__: {
              ...giant,
              format: 'micronet-quantized/1',
              quantization: JSON.stringify(planOfGoogLeNet()),
            },
            w: { dtype: 'U8', shape: [1_400_000], data_offsets: [0, 1_400_000] },
          },
          payload,
        ),
      ),
      expect: /describes a model of [\d,]+ bytes, but the file holds only 1,400,000 bytes of tensors/,
    },
    {
      file: write(
        'flood.safetensors',
        rawSafetensors({ __metadata__: { format: 'micronet-model/1', model: 'googlenet' }, ...empties(300_000) }),
      ),
      expect: /it names 300001 tensors, more than any model has \(at most 100000\)/,
    },
    {
      file: write(
        'many.safetensors',
        rawSafetensors({ __metadata__: { format: 'micronet-model/1', model: 'googlenet' }, ...empties(90_000) }),
      ),
      expect: /unexpected: t0, t1, t2, t3, t4, t5 and 89994 more/,
    },
  ];
  for (const { file, expect } of cases) {
    const { message, peakMiB } = loadInChild(file);
    assert.ok(message.includes(file), message);
    assert.match(message, expect);
    assert.ok(peakMiB < 500, `${file}: peak resident memory ${peakMiB.toFixed(0)} MiB`);
    console.log(`${basename(file)} (${statSync(file).size} bytes): refused at a peak of ${peakMiB.toFixed(0)} MiB`);
  }
});

test('malformed layouts, impossible sizes and hostile pickles give errors naming the file and the problem', () => {
  const dir = scratchDir();
  const file = (name: string, pickle: Buffer, ...entries: { name: string; data: Uint8Array }[]) => {
    const p = join(dir, name);
    writeFileSync(p, zipArchive([{ name: 'x/data.pkl', data: pickle }, ...entries]));
    return p;
  };
  const tensor = (spec: Partial<RefSpec>) =>
    file(
      't.pth',
      pickleTensors([['linear.weight', { storage: 'f', numel: 1, size: [1], stride: [1], ...spec }]]),
      ...storedEntries(['f']),
    );
  const refused = (path: string, expect: RegExp, read: (p: string) => unknown = readTorchFile) => {
    assert.throws(
      () =>
        T.tidy(() => {
          read(path);
        }),
      (e: Error) => {
        assert.ok(e.message.includes(path), e.message);
        assert.match(e.message, expect);
        assert.doesNotMatch(
          e.message,
          /enforce fail|alloc_cpu|negative dimension|invalid storage offset|Maximum call stack|RangeError|TypeError/,
        );
        return true;
      },
    );
  };
  refused(tensor({ size: [-5, 1024], stride: [1024, 1] }), /tensor size \[-5, 1024\] has a negative entry/);
  refused(tensor({ offset: -5 }), /tensor storage offset -5 is negative/);
  refused(tensor({ stride: [-1], size: [1] }), /tensor stride \[-1\] has a negative entry/);
  refused(tensor({ numel: -5 }), /storage 'f' has a negative element count -5/);
  refused(
    tensor({ size: [2], stride: [1] }),
    /tensor of size \[2\], strides \[1\] at offset 0 reaches beyond its storage of 1 elements/,
  );
  refused(tensor({ size: [2 ** 20, 2 ** 20], stride: [1, 1] }), /reaches beyond its storage/);
  refused(
    tensor({ size: [2 ** 40, 2 ** 20], stride: [0, 0] }),
    /tensor of size \[1099511627776, 1048576\].* is too large/,
  );
  // Storage sizes are checked against the archive before anything is read.
  refused(
    tensor({ numel: 2 ** 40 }),
    /storage 'f' of 1099511627776 float32 elements needs 4398046511104 bytes, its archive entry declares 4/,
  );
  refused(tensor({ numel: 0, size: [0], stride: [1] }), /needs 0 bytes, its archive entry declares 4/);
  // A valid view of 4 TiB: loading into a model stops at the shape; reading it all is refused before allocating.
  const giant = tensor({ size: [2 ** 20, 2 ** 20], stride: [0, 0] });
  refused(
    giant,
    /cannot read tensor of size \[1048576, 1048576\] \(4398046511104 bytes\) from storage 'f': more than this machine's memory/,
    (p) => materialize(readTorchFile(p)),
  );
  refused(giant, /wrong shape: linear\.weight: expected \[100, 1024\], got \[1048576, 1048576\]/, (p) =>
    loadAnyCheckpoint(p),
  );

  // 300,000 items in one APPENDS: read one at a time, not spread onto the call stack.
  const appends = Buffer.concat([
    Buffer.from([0x80, 2, 0x7d, 0x58, 1, 0, 0, 0, 0x78, 0x5d, 0x28]),
    Buffer.alloc(600000, Buffer.from([0x4b, 7])),
    Buffer.from([0x65, 0x73, 0x2e]),
  ]);
  const long = readTorchFile(file('appends.pth', appends)) as Map<string, number[]>;
  assert.equal(long.get('x')!.length, 300000);
  assert.equal(long.get('x')![299999], 7);
  refused(join(dir, 'appends.pth'), /holds no state dict .* found keys x/, (p) => loadAnyCheckpoint(p));
  // Internal failures of the reader (here invalid UTF-8) come out as a malformed pickle in that file.
  refused(
    file('utf8.pth', Buffer.from([0x80, 2, 0x58, 2, 0, 0, 0, 0xff, 0xfe, 0x2e])),
    /\(x\/data\.pkl\): malformed pickle \(at offset 2\)/,
  );
});

test('prune --out x.pth writes a torch.save file: torch.load(weights_only=True) and load_state_dict take it, values exact', () => {
  const dir = scratchDir();
  const source = join(dir, 'dense.safetensors');
  const { model, config } = buildModel('googlenet', {}, { generator: new T.Generator(3) });
  saveModelCheckpoint(source, model, 'googlenet', config);
  model.dispose();
  const pth = join(dir, 'pruned.pth');
  const safetensors = join(dir, 'pruned.safetensors');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  for (const out of [pth, safetensors]) assert.equal(run('prune', '--checkpoint', source, '--out', out).status, 0);
  assert.match(run('prune', '--checkpoint', source, '--out', pth).stdout, /torch\.save state dict .* micronet import /);
  // PyTorch reads it with its safe loader, into its own GoogLeNet, and writes what it read as safetensors.
  const read = join(dir, 'read.safetensors');
  const script = `import torch, sys
sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL('../../python/', import.meta.url)))})
from googlenet import GoogLeNet, write_safetensors
sd = torch.load(${JSON.stringify(pth)}, weights_only=True)
assert type(sd).__name__ == 'OrderedDict', type(sd)
GoogLeNet().load_state_dict(sd)
write_safetensors(${JSON.stringify(read)}, sd)`;
  execFileSync(torchPython, ['-c', script]);
  const expected = readSafetensors(safetensors).tensors;
  const got = readSafetensors(read).tensors;
  assert.deepEqual([...got.keys()], [...expected.keys()], 'the same keys, in state_dict order');
  for (const [k, t] of expected) {
    assert.equal(got.get(k)!.dtype, t.dtype, k);
    assert.deepEqual(got.get(k)!.data(), t.data(), `${k} exact`);
  }
  // micronet's own reader reads it back too.
  const back = loadAnyCheckpoint(pth, 'googlenet');
  assert.deepEqual(back.model.stateDict().get('linear.mask')!.data(), expected.get('linear.mask')!.data());
  back.model.dispose();
  assert.equal(run('prune', '--checkpoint', source, '--out', join(dir, 'x.bin')).status, 2);
  // The writer refuses what only ZIP64 could hold rather than write a wrong entry count.
  const many = Array.from({ length: 0x10000 }, (_, i) => ({ name: `e${i}`, data: new Uint8Array() }));
  assert.throws(() => encodeZip(many), /65536 entries needs ZIP64/);
  const json = JSON.parse(run('prune', '--checkpoint', source, '--out', safetensors, '--json').stdout);
  assert.equal(json.out, safetensors);
  assert.ok(json.layers.length > 50 && json.layers.every((l: { after: number; numel: number }) => l.after < l.numel));
  assert.ok(
    json.sparsity > 0.1 && json.sparsity < 0.3,
    `q 0.25 prunes about a fifth of a Gaussian layer, not ${json.sparsity}`,
  );
});
