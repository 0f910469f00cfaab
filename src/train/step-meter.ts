// An epoch's step figures gathered on the device as the steps run, and read by the host in one
// wait now and then: on a GPU, reading the loss after every step would stall the queue of work.
import * as T from '../torch/index.js';
import type { StepResult } from './step.js';

/** A step as the host knows it: its place, batch size and learning rate. */
interface StepInfo {
  batch: number;
  size: number;
  lr: number;
}

export class StepMeter {
  /** One slot per step of the epoch. */
  readonly #losses: T.Tensor;
  /** Correct predictions so far (int64). */
  readonly #correct: T.Tensor;
  #pending: StepInfo[] = [];
  #slot = 0;
  #correctRead = 0;
  #lastRead = performance.now();

  constructor(device: T.Device, steps: number) {
    this.#losses = T.keep(T.zeros([steps], { device, dtype: 'float32' }));
    this.#correct = T.keep(T.zeros([], { device, dtype: 'int64' }));
  }

  /** Copies a step's figures aside on the device (no wait). */
  record(step: StepResult, info: StepInfo): void {
    T.noGrad(() =>
      T.tidy(() => {
        this.#losses.narrow(0, this.#slot++, 1).copy_(step.loss.reshape([1]));
        this.#correct.add_(step.correct);
      }),
    );
    this.#pending.push(info);
  }

  /** Whether figures wait and the last read is at least `ms` old. */
  due(ms: number): boolean {
    return this.#pending.length > 0 && performance.now() - this.#lastRead >= ms;
  }

  /** The figures recorded since the last read (one wait for the device), and the correct predictions among them. */
  read(): { steps: (StepInfo & { loss: number })[]; correct: number } {
    const n = this.#pending.length;
    if (n === 0) return { steps: [], correct: 0 };
    const losses = T.tidy(() => this.#losses.narrow(0, this.#slot - n, n).data<'float32'>());
    const total = this.#correct.item();
    const steps = this.#pending.map((info, i) => ({ ...info, loss: losses[i]! }));
    const correct = total - this.#correctRead;
    this.#correctRead = total;
    this.#pending = [];
    this.#lastRead = performance.now();
    return { steps, correct };
  }

  dispose(): void {
    this.#losses.dispose();
    this.#correct.dispose();
  }
}
