// The micronet command line as the tests run it: the built CLI in a child process.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI's entry point (`node <cli> ...` is `micronet ...`). */
export const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Runs `micronet ...args` to completion; its output as text. */
export function runCli(args: readonly string[], options: Omit<SpawnSyncOptions, 'encoding'> = {}) {
  return spawnSync(process.execPath, [cli, ...args], { ...options, encoding: 'utf8' });
}
