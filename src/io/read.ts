// Reading a whole file with an error that names it (node's own message only says the errno).
import { readFileSync } from 'node:fs';

/** The file's bytes; the error names the path. */
export function readFileNamed(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
}
