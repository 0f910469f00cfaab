// Runs the PyTorch side of a benchmark in a persistent python3 process (Debian's python3-torch).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../bench/support/anchor.py', import.meta.url));
export const anchorPython = process.env.MICRONET_TORCH_PYTHON ?? '/usr/bin/python3';

export class TorchAnchor {
  #child: ChildProcessWithoutNullStreams;
  #pending: ((line: string) => void)[] = [];
  #stderr = '';

  constructor() {
    this.#child = spawn(anchorPython, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (d: Buffer) => { this.#stderr += d.toString(); });
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#pending.shift()?.(line));
    this.#child.on('exit', (code) => {
      for (const p of this.#pending.splice(0)) p(JSON.stringify({ error: `PyTorch anchor exited (${code}): ${this.#stderr.trim()}` }));
    });
  }

  /** Seconds per repetition of `bench` under `config`, after warm-up. */
  async time(bench: string, config: object, reps: number, threads: number, warmup = 2): Promise<number[]> {
    const line = await new Promise<string>((resolve) => {
      this.#pending.push(resolve);
      this.#child.stdin.write(JSON.stringify({ bench, config, reps, threads, warmup }) + '\n');
    });
    const answer = JSON.parse(line) as { seconds?: number[]; error?: string };
    if (!answer.seconds) throw new Error(answer.error ?? 'PyTorch anchor gave no timings');
    return answer.seconds;
  }

  close(): void {
    this.#child.stdin.end();
  }
}
