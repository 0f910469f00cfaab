// Atomic writes leave either the old file or the new one, and no temporary behind; stale
// temporaries of killed writers are cleared; failures name the file and the problem in words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitTemporary, writeFileAtomic, writeProblem } from '../src/io/atomic.js';
import { scratchDir } from './support/scratch.js';

function tempDir(): string {
  const d = scratchDir('micronet-atomic-');
  return d;
}
const text = (s: string) => new TextEncoder().encode(s);

test('writeFileAtomic replaces a file whole and leaves no temporary', () => {
  const dir = tempDir();
  const path = join(dir, 'a.bin');
  writeFileSync(path, 'old');
  writeFileAtomic(path, [text('new '), text('content')]);
  assert.equal(readFileSync(path, 'utf8'), 'new content');
  assert.deepEqual(readdirSync(dir), ['a.bin']);
});

test('a failed write keeps the old file', () => {
  const dir = tempDir();
  const path = join(dir, 'a.bin');
  writeFileSync(path, 'old');
  const bad = { byteLength: 3 } as unknown as Uint8Array; // not writable data
  assert.throws(() => writeFileAtomic(path, bad));
  assert.equal(readFileSync(path, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['a.bin']);
});

/** A pid no process has: a child that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

test('a write removes the temporaries of killed writers to the same file, and only those', () => {
  const dir = tempDir();
  const dead = deadPid();
  const staleFile = `.a.bin.${dead}.0badc0de.tmp`;
  const staleFolder = `.a.bin.${dead}.0ddba11a.tmp`;
  const live = `.a.bin.${process.pid}.feedface.tmp`; // a writer still running
  const other = `.b.bin.${dead}.0badc0de.tmp`; // another file's
  const lookalike = `.a.bin.${dead}.notours.tmp`;
  for (const f of [staleFile, live, other, lookalike]) writeFileSync(join(dir, f), 'part');
  mkdirSync(join(dir, staleFolder, 'sub'), { recursive: true });
  writeFileSync(join(dir, staleFolder, 'sub', 'x'), 'part');
  writeFileAtomic(join(dir, 'a.bin'), text('whole'));
  assert.deepEqual(readdirSync(dir).sort(), [live, lookalike, other, 'a.bin'].sort());
});

test('writing into a missing directory names the file and the directory', () => {
  const dir = join(tempDir(), 'out');
  const path = join(dir, 'x.safetensors');
  assert.throws(
    () => writeFileAtomic(path, text('x')),
    (e: Error) => e.message === `cannot write ${path}: the directory ${dir} does not exist`,
  );
  assert.throws(
    () => writeFileAtomic(join(dir, 'deeper', 'x'), text('x')),
    /the directory .*out[/\\]deeper does not exist/,
  );
});

test('writing below a file names the file that is not a directory', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'out'), 'a file');
  const path = join(dir, 'out', 'x.safetensors');
  assert.throws(
    () => writeFileAtomic(path, text('x')),
    (e: Error) => e.message === `cannot write ${path}: ${join(dir, 'out')} is not a directory`,
  );
});

test('writing over a directory says so and leaves no temporary', () => {
  const dir = tempDir();
  const path = join(dir, 'x.safetensors');
  mkdirSync(join(path, 'inside'), { recursive: true });
  assert.throws(
    () => writeFileAtomic(path, text('x')),
    (e: Error) => e.message === `cannot write ${path}: it is a directory`,
  );
  assert.deepEqual(readdirSync(dir), ['x.safetensors']);
  const tmp = join(dir, 'done');
  writeFileSync(tmp, 'x');
  assert.throws(
    () => commitTemporary(tmp, path),
    (e: Error) => e.message === `cannot write ${path}: it is a directory`,
  );
});

test("error codes without a better diagnosis are put in words; others keep node's message", () => {
  const err = (code: string) => Object.assign(new Error(`${code}: raw message`), { code });
  assert.equal(writeProblem('d/x', err('EROFS')), 'read-only file system');
  assert.equal(writeProblem('d/x', err('ENOSPC')), 'no space left on device');
  assert.equal(writeProblem('d/x', err('EDQUOT')), 'disk quota exceeded');
  assert.equal(writeProblem('d/x', err('EACCES')), 'permission denied (is the directory read-only?)');
  assert.equal(writeProblem('d/x', err('EPERM')), 'permission denied (is the directory read-only?)');
  assert.equal(writeProblem('d/x', err('EIO')), 'EIO: raw message');
});

test('writing into a read-only directory says permission denied', (t) => {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const ro = join(dir, 'ro');
  mkdirSync(ro, { mode: 0o555 });
  chmodSync(ro, 0o555);
  const path = join(ro, 'x.safetensors');
  const want = `cannot write ${path}: permission denied (is the directory read-only?)`;
  if (process.getuid?.() !== 0) {
    assert.throws(
      () => writeFileAtomic(path, text('x')),
      (e: Error) => e.message === want,
    );
  } else {
    // Root writes anywhere: try as an unprivileged user instead, if one can run this module.
    const module = fileURLToPath(new URL('../src/io/atomic.js', import.meta.url));
    const script = `import(${JSON.stringify(module)}).then((m) => { try { m.writeFileAtomic(process.argv[1], new Uint8Array(1)); console.log('written'); }
      catch (e) { console.log(e.message); } }, (e) => console.log('cannot import: ' + e.message));`;
    const r = spawnSync(process.execPath, ['-e', script, path], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: dir });
    if (r.error || r.stdout.startsWith('cannot import'))
      return t.skip(`running as root and cannot run as another user (${r.error?.message ?? r.stdout.trim()})`);
    assert.equal(r.stdout.trim(), want);
  }
  assert.equal(existsSync(path), false);
  assert.deepEqual(readdirSync(ro), []);
});
