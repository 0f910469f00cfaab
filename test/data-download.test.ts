// Download: fetch, verify MD5, extract, idempotent; fails fast offline with what to put where;
// nothing half-written. A local HTTP server stands in for the official site.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, loadDataset, writeSynthetic } from '../src/data/index.js';

const scratch: string[] = [];
const servers: Server[] = [];
after(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  for (const s of servers) s.close();
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'micronet-data-dl-'));
  scratch.push(d);
  return d;
}

const source = tempDir();
writeSynthetic(source, { train: 120, test: 30, seed: 2, archives: true });
const archive = readFileSync(join(source, 'cifar-100-binary.tar.gz'));
const md5 = createHash('md5').update(archive).digest('hex');
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
  await assert.rejects(download({ dir, url: 'http://127.0.0.1:9/cifar-100-binary.tar.gz', ...quiet }),
    (e: Error) => e.message.includes(dir) && e.message.includes('cifar-100-binary.tar.gz') && e.message.includes('03b5dce01913d631647c71ecec9e9cb8'));
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
