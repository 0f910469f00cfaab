// Runs the PyTorch side of a benchmark in a persistent python process, with the same torch as the addon's engine.
import { fileURLToPath } from 'node:url';
import { PythonProcess } from './python-process.js';

const script = fileURLToPath(new URL('../../../python/anchor.py', import.meta.url));

export class TorchAnchor {
  readonly #process = new PythonProcess(script, 'PyTorch anchor');

  /** Seconds per repetition of `bench` under `config`, after warm-up. */
  async time(bench: string, config: object, reps: number, threads: number, warmup = 2): Promise<number[]> {
    const answer = await this.#process.request<{ seconds?: number[]; error?: string }>({
      bench,
      config,
      reps,
      threads,
      warmup,
    });
    if (!answer.seconds) throw new Error(answer.error ?? 'PyTorch anchor gave no timings');
    return answer.seconds;
  }

  /** torch.__version__ of the anchor (e.g. 2.13.0+cpu). */
  async version(): Promise<string> {
    const answer = await this.#process.request<{ pytorch?: string; error?: string }>({ bench: 'versions' });
    if (!answer.pytorch) throw new Error(answer.error ?? 'PyTorch anchor gave no version');
    return answer.pytorch;
  }

  close(): void {
    this.#process.close();
  }
}
