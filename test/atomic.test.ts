// Atomic writes leave either the old file or the new one, and no temporary behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic.js';

test('writeFileAtomic replaces a file whole and leaves no temporary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'micronet-atomic-'));
  const path = join(dir, 'a.bin');
  writeFileSync(path, 'old');
  writeFileAtomic(path, [new TextEncoder().encode('new '), new TextEncoder().encode('content')]);
  assert.equal(readFileSync(path, 'utf8'), 'new content');
  assert.deepEqual(readdirSync(dir), ['a.bin']);
});

test('a failed write keeps the old file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'micronet-atomic-'));
  const path = join(dir, 'a.bin');
  writeFileSync(path, 'old');
  const bad = { byteLength: 3 } as unknown as Uint8Array;  // not writable data
  assert.throws(() => writeFileAtomic(path, bad));
  assert.equal(readFileSync(path, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['a.bin']);
});
