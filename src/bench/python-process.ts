// A persistent python with torch answering one JSON line per JSON request line: the transport of
// the PyTorch oracles in tests and of the PyTorch anchors in benchmarks.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

/** The python whose torch the addon is built against (native/torch-python.cjs holds the rule). */
export const torchPython: string = (
  createRequire(import.meta.url)('../../../native/torch-python.cjs') as { torchPython(): string }
).torchPython();

export class PythonProcess {
  #child: ChildProcessWithoutNullStreams;
  #waiting: ((line: string) => void)[] = [];
  #stderr = '';

  constructor(
    script: string,
    readonly name: string,
  ) {
    this.#child = spawn(torchPython, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (d: Buffer) => {
      this.#stderr += d.toString();
    });
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#waiting.shift()?.(line));
    this.#child.on('exit', (code) => {
      for (const w of this.#waiting.splice(0))
        w(JSON.stringify({ error: `${name} exited (${code}): ${this.#stderr.trim()}` }));
    });
  }

  /** Sends one request; the answer's `error` field, if any, is the caller's to report. */
  async request<A extends { error?: string }>(message: object): Promise<A> {
    const line = await new Promise<string>((resolve) => {
      this.#waiting.push(resolve);
      this.#child.stdin.write(`${JSON.stringify(message)}\n`);
    });
    return JSON.parse(line) as A;
  }

  close(): void {
    this.#child.stdin.end();
  }
}
