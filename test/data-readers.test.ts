// Readers parse CIFAR files written by Python (numpy, pickle, tarfile), in both official versions,
// extracted or archived, and refuse bad input with the file's name and the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset, loadSplit, locate, readPickle, writeSynthetic } from '../src/data/index.js';
import { runPython } from './support/data-python.js';
import { scratchDir } from './support/scratch.js';

type Contents = Record<
  'cifar100' | 'cifar10',
  Record<'train' | 'test', { images: string; fine: string; coarse: string }>
>;

const root = scratchDir('micronet-data-readers-');
const written = runPython<Contents>('data-write.py', null, [root]);
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

for (const dataset of ['cifar100', 'cifar10'] as const) {
  for (const layout of ['binary', 'python2', 'python3', 'python4', 'binary-archive', 'python-archive']) {
    test(`${dataset}: reads the ${layout} layout written by Python`, () => {
      const dir = join(root, dataset, layout);
      const found = locate(dir, dataset);
      assert.equal(found.kind, layout.endsWith('archive') ? 'archive' : 'folder');
      const { train, test: testSplit } = loadDataset(dir, { dataset });
      for (const [split, got] of [
        ['train', train],
        ['test', testSplit],
      ] as const) {
        const want = written[dataset][split];
        assert.deepEqual(got.images, bytes(want.images), `${split} images`);
        assert.deepEqual(got.labels, bytes(want.fine), `${split} labels`);
        assert.equal(got.count, got.labels.length);
        assert.equal(got.classes, dataset === 'cifar100' ? 100 : 10);
      }
      if (dataset === 'cifar100')
        assert.deepEqual(loadSplit(dir, 'train', { labels: 'coarse' }).labels, bytes(written.cifar100.train.coarse));
    });
  }
}

test('CIFAR-10 has no coarse labels', () => {
  assert.throws(
    () => loadSplit(join(root, 'cifar10', 'binary'), 'train', { dataset: 'cifar10', labels: 'coarse' }),
    /CIFAR-10 has no coarse labels/,
  );
});

/** A scratch copy of one layout, to damage. */
function copy(layout: string): string {
  const dir = scratchDir('micronet-data-bad-');
  cpSync(join(root, 'cifar100', layout), dir, { recursive: true });
  return dir;
}

test('a .bin file whose size is not a whole number of records is refused, naming it', () => {
  const dir = copy('binary');
  const file = join(dir, 'cifar-100-binary', 'train.bin');
  truncateSync(file, 3074 * 7 - 1);
  assert.throws(
    () => loadSplit(dir, 'train'),
    (e: Error) => e.message.includes(file) && /not a whole number of 3074-byte records/.test(e.message),
  );
});

test('a label out of range is refused with the file, record and label', () => {
  const dir = copy('binary');
  const file = join(dir, 'cifar-100-binary', 'test.bin');
  const b = readFileSync(file);
  b[3 * 3074 + 1] = 140; // fine label of record 3
  writeFileSync(file, b);
  assert.throws(
    () => loadSplit(dir, 'test'),
    (e: Error) => e.message.includes(file) && /record 3 has fine label 140, outside 0..99/.test(e.message),
  );
  b[3 * 3074] = 20; // coarse label of record 3
  writeFileSync(file, b);
  assert.throws(() => loadSplit(dir, 'test', { labels: 'coarse' }), /record 3 has coarse label 20, outside 0..19/);
});

test('a missing split is reported with the file it looked for', () => {
  const dir = copy('binary');
  rmSync(join(dir, 'cifar-100-binary', 'test.bin'));
  assert.throws(
    () => loadDataset(dir),
    (e: Error) =>
      e.message.includes(join(dir, 'cifar-100-binary', 'test.bin')) && /missing \(the test split\)/.test(e.message),
  );
  assert.equal(loadSplit(dir, 'train').count, 7, 'the train split still reads');
});

test('a truncated archive is reported as such, naming it', () => {
  const dir = copy('binary-archive');
  const file = join(dir, 'cifar-100-binary.tar.gz');
  const b = readFileSync(file);
  writeFileSync(file, b.subarray(0, b.length >> 1));
  assert.throws(
    () => loadSplit(dir, 'train'),
    (e: Error) => e.message.includes(file) && /truncated archive/.test(e.message),
  );
});

test('a directory without the data says where to put it and how to download it', () => {
  const dir = scratchDir('micronet-data-empty-');
  assert.throws(
    () => loadSplit(dir, 'train'),
    (e: Error) =>
      e.message.includes(dir) &&
      e.message.includes('cifar-100-binary.tar.gz') &&
      e.message.includes('micronet data download'),
  );
});

test("a pickle calling anything but numpy's array reconstruction is refused, and nothing runs", () => {
  const dir = join(root, 'evil');
  assert.throws(
    () => loadSplit(dir, 'train'),
    (e: Error) =>
      e.message.includes(join(dir, 'cifar-100-python', 'train')) &&
      /refusing pickle global 'posix.system'/.test(e.message),
  );
});

test('a truncated pickle is refused, naming the file', () => {
  const good = readFileSync(join(root, 'cifar100', 'python2', 'cifar-100-python', 'train'));
  assert.throws(() => readPickle(good.subarray(0, 100), 'some/train'), /^Error: some\/train: truncated pickle/);
});

test('a split without images is refused, naming its files, in every layout', () => {
  const dir = scratchDir('micronet-data-empty-split-');
  writeSynthetic(dir, { train: 0, test: 5, versions: ['binary', 'python'], archives: true });
  const binary = join(dir, 'cifar-100-binary', 'train.bin');
  assert.throws(
    () => loadSplit(dir, 'train'),
    (e: Error) => e.message.startsWith(`${binary}: no images (the train split is empty`),
  );
  assert.equal(loadSplit(dir, 'test').count, 5, 'the test split still reads');
  rmSync(join(dir, 'cifar-100-binary'), { recursive: true });
  const pickle = join(dir, 'cifar-100-python', 'train');
  assert.throws(
    () => loadDataset(dir),
    (e: Error) => e.message.startsWith(`${pickle}: no images (the train split is empty`),
  );
  rmSync(join(dir, 'cifar-100-python'), { recursive: true });
  for (const archive of ['cifar-100-binary.tar.gz', 'cifar-100-python.tar.gz']) {
    assert.throws(
      () => loadDataset(dir),
      (e: Error) =>
        e.message.includes(`${join(dir, archive)}:${archive.replace('.tar.gz', '')}/train`) &&
        /no images/.test(e.message),
    );
    rmSync(join(dir, archive));
  }
});

test('CIFAR-10 batches without any images are refused, naming all of them', () => {
  const dir = scratchDir('micronet-data-empty-split-');
  writeSynthetic(dir, { dataset: 'cifar10', train: 10, test: 5 });
  for (let i = 1; i <= 5; i++) writeFileSync(join(dir, 'cifar-10-batches-bin', `data_batch_${i}.bin`), '');
  assert.throws(
    () => loadSplit(dir, 'train', { dataset: 'cifar10' }),
    (e: Error) =>
      [1, 2, 3, 4, 5].every((i) => e.message.includes(`data_batch_${i}.bin`)) &&
      /no images \(the train split is empty/.test(e.message),
  );
});

test('an image-folder tree (train/ and test/ directories) is named as such, not met with EISDIR', () => {
  const dir = scratchDir();
  mkdirSync(join(dir, 'train', 'apple'), { recursive: true });
  mkdirSync(join(dir, 'test', 'apple'), { recursive: true });
  assert.throws(
    () => loadSplit(dir, 'test'),
    (e: Error) =>
      e.message.startsWith(`${join(dir, 'train')} is a directory, not a CIFAR-100 split file`) &&
      e.message.includes('not image-folder trees') &&
      !e.message.includes('EISDIR'),
  );
});
