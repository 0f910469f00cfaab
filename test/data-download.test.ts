// Download: fetch, verify MD5, extract, idempotent; fails fast offline with what to put where;
// nothing half-written; a damaged folder is noticed and replaced. A local HTTP server stands in
// for the official site.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { download, loadDataset, writeSynthetic } from '../src/data/index.js';
import { scratchDir } from './support/scratch.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});
const tempDir = () => scratchDir('micronet-data-dl-');

const source = tempDir();
writeSynthetic(source, { train: 120, test: 30, seed: 2, archives: true, versions: ['binary', 'python'] });
const archive = readFileSync(join(source, 'cifar-100-binary.tar.gz'));
const md5 = createHash('md5').update(archive).digest('hex');
const counts = { train: 120, test: 30 };
const trainBytes = 120 * 3074;
let hits = 0;

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/cifar-100-binary.tar.gz`;
}

const url = await serve((_req, res) => {
  hits++;
  res.writeHead(200, { 'content-length': archive.length });
  res.end(archive);
});
const quiet = { log: () => undefined, progress: false };

test('download fetches, verifies, extracts; a second run does nothing', async () => {
  const dir = tempDir();
  const first = await download({ dir, url, md5, ...quiet });
  assert.equal(first.status, 'downloaded');
  assert.deepEqual(readdirSync(dir).sort(), ['cifar-100-binary', 'cifar-100-binary.tar.gz'], 'no temporaries left');
  assert.deepEqual(loadDataset(dir).train.images, loadDataset(source).train.images);
  const before = hits;
  const lines: string[] = [];
  const second = await download({ dir, url, md5, progress: false, log: (l) => lines.push(l) });
  assert.equal(second.status, 'present');
  assert.equal(hits, before, 'nothing fetched');
  assert.match(lines.join('\n'), /already there/);
});

test('an archive already in place is verified and extracted without fetching', async () => {
  const dir = tempDir();
  await download({ dir, url, md5, ...quiet });
  rmSync(join(dir, 'cifar-100-binary'), { recursive: true });
  const before = hits;
  assert.equal((await download({ dir, url, md5, ...quiet })).status, 'extracted');
  assert.equal(hits, before);
  assert.equal(loadDataset(dir).test.count, 30);
});

test('a checksum mismatch keeps nothing', async () => {
  const dir = tempDir();
  await assert.rejects(download({ dir, url, md5: '0'.repeat(32), ...quiet }), /has MD5 [0-9a-f]{32}, expected 0{32}/);
  assert.deepEqual(readdirSync(dir), []);
});

test('offline: an unreachable server fails fast, saying which file to put where', async () => {
  const dir = tempDir();
  const t0 = Date.now();
  await assert.rejects(
    download({ dir, url: 'http://127.0.0.1:9/cifar-100-binary.tar.gz', ...quiet }),
    (e: Error) =>
      e.message.includes(dir) &&
      e.message.includes('cifar-100-binary.tar.gz') &&
      e.message.includes('03b5dce01913d631647c71ecec9e9cb8'),
  );
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(readdirSync(dir), []);
});

test('a server that never answers times out', async () => {
  const dir = tempDir();
  const silent = await serve(() => undefined);
  await assert.rejects(download({ dir, url: silent, md5, timeoutMs: 300, ...quiet }), /no answer within 0.3 s/);
  assert.deepEqual(readdirSync(dir), []);
});

test('a transfer cut short is not kept', async () => {
  const dir = tempDir();
  const cut = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': archive.length });
    res.write(archive.subarray(0, 1000));
    setTimeout(() => res.destroy(), 50);
  });
  await assert.rejects(download({ dir, url: cut, md5, ...quiet }), /broke off|MD5/);
  assert.deepEqual(readdirSync(dir), []);
});

/** A fresh dir with a verified download in it. */
async function downloaded(): Promise<{ dir: string; folder: string }> {
  const dir = tempDir();
  await download({ dir, url, md5, ...quiet });
  return { dir, folder: join(dir, 'cifar-100-binary') };
}

test('a truncated file in a downloaded folder is noticed and extracted again from the archive', async () => {
  const { dir, folder } = await downloaded();
  truncateSync(join(folder, 'train.bin'), 1000);
  const before = hits;
  const lines: string[] = [];
  const again = await download({ dir, url, md5, progress: false, log: (l) => lines.push(l) });
  assert.equal(again.status, 'extracted');
  assert.equal(hits, before, 'the archive was at hand');
  assert.match(lines.join('\n'), new RegExp(`train\\.bin has 1000 bytes, ${trainBytes} expected; replacing it`));
  assert.deepEqual(loadDataset(dir).train.images, loadDataset(source).train.images);
  assert.equal((await download({ dir, url, md5, ...quiet })).status, 'present');
});

test('a damaged folder without its archive is downloaded again', async () => {
  const { dir, folder } = await downloaded();
  rmSync(join(dir, 'cifar-100-binary.tar.gz'));
  rmSync(join(folder, 'fine_label_names.txt'));
  const lines: string[] = [];
  const before = hits;
  assert.equal((await download({ dir, url, md5, progress: false, log: (l) => lines.push(l) })).status, 'downloaded');
  assert.equal(hits, before + 1);
  assert.match(lines.join('\n'), /fine_label_names\.txt is missing; replacing it from http/);
  assert.ok(existsSync(join(folder, 'fine_label_names.txt')));
});

test('a folder extracted elsewhere is verified by reading it', async () => {
  const dir = tempDir();
  writeSynthetic(dir, { train: 120, test: 30, seed: 2 });
  const before = hits;
  const lines: string[] = [];
  assert.equal(
    (await download({ dir, url, md5, counts, progress: false, log: (l) => lines.push(l) })).status,
    'present',
  );
  assert.equal(hits, before);
  assert.match(lines.join('\n'), /already there \(extracted elsewhere; read, 120 training and 30 test images/);
  // Other expected counts: the binary sizes differ, so it is fetched again.
  lines.length = 0;
  assert.equal(
    (await download({ dir, url, md5, counts: { train: 100, test: 30 }, progress: false, log: (l) => lines.push(l) }))
      .status,
    'downloaded',
  );
  assert.match(lines.join('\n'), new RegExp(`train\\.bin has ${trainBytes} bytes, ${100 * 3074} expected`));
});

test('a truncated folder extracted elsewhere, or with an older marker, is replaced', async () => {
  const { dir, folder } = await downloaded();
  rmSync(join(dir, 'cifar-100-binary.tar.gz'));
  writeFileSync(join(folder, '.micronet-md5'), `${md5}\n`); // older markers held only the MD5
  assert.equal((await download({ dir, url, md5, counts, ...quiet })).status, 'present', 'read and found complete');
  truncateSync(join(folder, 'train.bin'), 0);
  const lines: string[] = [];
  assert.equal(
    (await download({ dir, url, md5, counts, progress: false, log: (l) => lines.push(l) })).status,
    'downloaded',
  );
  assert.match(lines.join('\n'), new RegExp(`train\\.bin has 0 bytes, ${trainBytes} expected`));
  assert.equal(loadDataset(dir).train.count, 120);
});

test('a python folder extracted elsewhere with an empty split is downloaded again', async () => {
  const dir = tempDir();
  writeSynthetic(dir, { train: 0, test: 30, seed: 2, versions: ['python'] });
  const python = readFileSync(join(source, 'cifar-100-python.tar.gz'));
  const pyUrl = await serve((_req, res) => res.end(python));
  const lines: string[] = [];
  const got = await download({
    dir,
    url: pyUrl,
    version: 'python',
    md5: createHash('md5').update(python).digest('hex'),
    counts,
    progress: false,
    log: (l) => lines.push(l),
  });
  assert.equal(got.status, 'downloaded');
  assert.match(lines.join('\n'), /cifar-100-python[/\\]train: no images \(the train split is empty/);
  assert.equal(loadDataset(dir).train.count, 120);
});

test('temporaries of a killed download or extraction are removed; those of a running one are kept', async () => {
  const dir = tempDir();
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const staleArchive = `.cifar-100-binary.tar.gz.${dead}.0badc0de.tmp`;
  const staleFolder = `.cifar-100-binary.${dead}.0ddba11a.tmp`;
  const live = `.cifar-100-binary.${process.pid}.feedface.tmp`;
  writeFileSync(join(dir, staleArchive), archive.subarray(0, 1000));
  mkdirSync(join(dir, staleFolder));
  writeFileSync(join(dir, staleFolder, 'train.bin'), 'part');
  mkdirSync(join(dir, live));
  await download({ dir, url, md5, ...quiet });
  assert.deepEqual(readdirSync(dir).sort(), [live, 'cifar-100-binary', 'cifar-100-binary.tar.gz'].sort());
});

test('a data directory that cannot be made is reported in words', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'file'), '');
  const target = join(dir, 'file', 'data');
  await assert.rejects(
    download({ dir: target, url, md5, ...quiet }),
    (e: Error) => e.message === `cannot create the directory ${target}: ${join(dir, 'file')} is not a directory`,
  );
  await assert.rejects(
    download({ dir: join(dir, 'file'), url, md5, ...quiet }),
    (e: Error) =>
      e.message === `cannot create the directory ${join(dir, 'file')}: ${join(dir, 'file')} is not a directory`,
  );
});
