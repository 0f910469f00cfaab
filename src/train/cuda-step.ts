// The training step on CUDA, by default captured once into a CUDA graph and replayed for every
// batch: the host launches one graph instead of about a thousand kernels per step. The step is
// the same trainStep, recorded through the ordinary operator calls: its inputs live in static
// buffers that each batch is copied into, and its learning rate in a device scalar, so that
// warm-up can change the rate every step without a new capture.
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { Optimizer } from '../optim/index.js';
import { trainStep, type StepRecipe, type StepResult } from './step.js';

/** Eager steps before a capture: they create what the step keeps (momentum, cuDNN plans, workspaces). */
const WARMUP_STEPS = 3;
/** With DDP's Reducer in the step, as PyTorch's CUDA-graph notes ask: its first iterations set up its buckets. */
const WARMUP_STEPS_DATA_PARALLEL = 11;

/** What a data-parallel step needs: gradients averaged over the group (DDP's Reducer), and whether its collectives can be captured (NCCL). */
interface StepReplicas {
  beforeBackward(loss: T.Tensor): void;
  readonly capturable: boolean;
}

export class CudaStep {
  readonly #lr: T.Tensor;
  #graph: T.CudaGraph | null = null;
  /** The static inputs and outputs of the captured step. */
  #inputs: { x: T.Tensor; y: T.Tensor } | null = null;
  #outputs: StepResult | null = null;
  #eager = 0;
  #failed = false;
  readonly #warmup: number;

  /**
   * Steps of `batchSize` images are captured, others (a last, partial batch) run eagerly.
   * `capture` false runs every step eagerly. `onFallback` hears why a capture failed; the step
   * then runs eagerly until the next `invalidate()`.
   */
  constructor(
    readonly device: T.Device,
    readonly batchSize: number,
    readonly capture = true,
    private readonly onFallback: (why: string) => void = () => {},
    private readonly replicas?: StepReplicas,
  ) {
    this.#lr = T.keep(T.zeros([], { device, dtype: 'float32' }));
    // Gloo's collectives wait on the host: a step that uses them cannot be captured.
    if (replicas && !replicas.capturable) this.capture = false;
    this.#warmup = replicas ? WARMUP_STEPS_DATA_PARALLEL : WARMUP_STEPS;
  }

  /** One step on a batch (x, y on the host, pinned or not) at learning rate lr. Its results stay valid until the next call. */
  run(model: Module, optimizer: Optimizer, recipe: StepRecipe, x: T.Tensor, y: T.Tensor, lr: number): StepResult {
    this.#lr.fill_(lr);
    const fits = x.size(0) === this.batchSize;
    if (!this.capture || !optimizer.capturable || this.#failed || !fits || this.#eager < this.#warmup) {
      if (fits) this.#eager++;
      return this.#eagerStep(model, optimizer, recipe, x, y);
    }
    const { x: sx, y: sy } = (this.#inputs ??= {
      x: T.keep(x.to({ device: this.device, nonBlocking: true })),
      y: T.keep(y.to({ device: this.device, nonBlocking: true })),
    });
    T.tidy(() => {
      sx.copy_(pinned(x), true);
      sy.copy_(pinned(y), true);
    });
    if (!this.#outputs) {
      const graph = new T.CudaGraph();
      try {
        this.#outputs = graph.capture(() =>
          T.tidy(() => {
            const r = trainStep(model, optimizer, recipe, sx, sy, this.#lr, 'cuda', this.replicas);
            return { loss: T.keep(r.loss), correct: T.keep(r.correct) };
          }),
        );
      } catch (e) {
        graph.dispose();
        optimizer.zeroGrad(); // gradients the abandoned capture may have left
        this.#failed = true;
        this.onFallback((e as Error).message.split('\n')[0]!);
        return this.#eagerStep(model, optimizer, recipe, x, y);
      }
      this.#graph = graph;
    }
    this.#graph!.replay();
    return this.#outputs;
  }

  /** The step changed (pruning, a new optimizer, quantization, a new epoch): capture again after a warm-up. */
  invalidate(): void {
    this.#outputs?.loss.dispose();
    this.#outputs?.correct.dispose();
    this.#outputs = null;
    this.#graph?.dispose();
    this.#graph = null;
    this.#eager = 0;
    this.#failed = false;
  }

  dispose(): void {
    this.invalidate();
    this.#inputs?.x.dispose();
    this.#inputs?.y.dispose();
    this.#inputs = null;
    this.#lr.dispose();
  }

  /** The same step, uncaptured; it reads the same device learning rate. */
  #eagerStep(model: Module, optimizer: Optimizer, recipe: StepRecipe, x: T.Tensor, y: T.Tensor): StepResult {
    return T.tidy(() =>
      trainStep(
        model,
        optimizer,
        recipe,
        pinned(x).to({ device: this.device, nonBlocking: true }),
        pinned(y).to({ device: this.device, nonBlocking: true }),
        this.#lr,
        'cuda',
        this.replicas,
      ),
    );
  }
}

/** A host batch in page-locked memory, whose copy to the GPU runs in stream order while the host goes on. */
function pinned(t: T.Tensor): T.Tensor {
  return t.device === 'cpu' ? t.pinMemory() : t;
}
