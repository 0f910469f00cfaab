// The `micronet` command itself: usage, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cli } from './support/cli.js';

const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('micronet without a command prints usage and fails; --help succeeds', () => {
  const bare = run();
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /a command is needed[\s\S]*usage: micronet <command>/);
  const help = run('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: micronet <command>[\s\S]*train/);
  const unknown = run('trian');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'trian'/);
});
