// Records one forward pass: every leaf module's call with its input and output shapes, every
// operator the forward runs outside the leaves (a residual addition, a concatenation), and which
// tensor each step reads and makes, so that the rules can tell where a value flows (a BatchNorm
// folds into a convolution only when it alone reads the convolution's output).
import * as T from '../torch/index.js';
import { BatchNorm2d, Conv2d } from './layers.js';
import type { Module } from './module.js';

/** One call of a leaf module during the traced forward pass. */
interface LeafCall {
  /** The module's name in the model. */
  name: string;
  module: Module;
  /** Per-sample shapes (batch dimension removed): [C, H, W] or [features]. */
  input: number[];
  output: number[];
  /** The tensors read and made, as trace-wide ids. */
  inputId: number;
  outputId: number;
}

/** An operator the forward ran outside every leaf module. */
export interface OpCall {
  /** The operator, e.g. `add.Tensor`, `cat`, `view`. */
  op: string;
  /** Per-sample shape of its (first) result. */
  output: number[];
  inputIds: number[];
  /** Its other arguments (a concatenation's dim, a flatten's dims). */
  attributes: unknown[];
  outputId: number;
}

/** A step of the forward pass in execution order: a layer's call or an operator outside the layers. */
export type Step = { layer: LeafCall } | { op: OpCall };

/** A traced forward pass. */
export interface Trace {
  /** The leaf calls in execution order (a module called twice appears twice). */
  calls: LeafCall[];
  /** Leaf calls and outside operators, interleaved in execution order. */
  steps: Step[];
  /** The leaves in registration order. */
  leaves: [string, Module][];
  /** How many steps read the tensor of this id. */
  readers(id: number): number;
  /** The ids of the forward's input and of its result. */
  inputId: number;
  outputId: number;
}

/** Runs one eval forward pass on a single zero sample of inputShape (CHW; the model's own by default) and records every step. */
export function traceForward(model: Module, inputShape: readonly number[] = model.sampleShape): Trace {
  const leaves = model.namedModules().filter(([, m]) => m.children().length === 0);
  const calls: LeafCall[] = [];
  const steps: Step[] = [];
  const readCount = new Map<number, number>();
  // Tensor ids: a handle number may be reused once its tensor is freed, so each made tensor gets a fresh id.
  let nextId = 0;
  const ids = new Map<number, number>();
  const idOf = (handle: number) => ids.get(handle) ?? ids.set(handle, ++nextId).get(handle)!;
  const read = (id: number) => readCount.set(id, (readCount.get(id) ?? 0) + 1);
  let depth = 0;
  let [inputId, outputId] = [0, 0];
  const patched: Module[] = [];
  try {
    for (const [name, m] of leaves) {
      const original = m.forward;
      m.forward = function traced(this: Module, x: T.Tensor, training: boolean): T.Tensor {
        const inputId = idOf(x.handle);
        depth++;
        let y: T.Tensor;
        try {
          y = original.call(this, x, training);
        } finally {
          depth--;
        }
        const call = {
          name,
          module: m,
          input: x.shape.slice(1),
          output: y.shape.slice(1),
          inputId,
          outputId: idOf(y.handle),
        };
        read(inputId);
        calls.push(call);
        steps.push({ layer: call });
        return y;
      };
      patched.push(m);
    }
    const device = model.parameters()[0]?.device ?? 'cpu';
    T.tidy(() =>
      T.noGrad(() => {
        const x = T.zeros([1, ...inputShape], { device });
        inputId = idOf(x.handle);
        T.observeOps(
          (o) => {
            for (const out of o.outputs) ids.set(out.handle, ++nextId);
            if (depth > 0 || !o.outputs.length) return;
            const inputIds = o.inputs.map(idOf);
            for (const id of inputIds) read(id);
            steps.push({
              op: {
                op: o.name,
                output: o.outputs[0]!.shape.slice(1),
                inputIds,
                attributes: o.attributes,
                outputId: ids.get(o.outputs[0]!.handle)!,
              },
            });
          },
          () => {
            outputId = idOf(model.forward(x, false).handle);
          },
        );
      }),
    );
  } finally {
    for (const m of patched) delete (m as unknown as { forward?: unknown }).forward; // back to the prototype's method
  }
  return { calls, steps, leaves, readers: (id) => readCount.get(id) ?? 0, inputId, outputId };
}

type TracedCall = Trace['calls'][number];

/**
 * The BatchNorm calls that fold into a convolution, each with that convolution's call: the
 * BatchNorm reads the output of a convolution that nothing else reads. (A pre-activation
 * BatchNorm reads a sum or a concatenation; a convolution whose output also feeds a shortcut or
 * a concatenation needs it unnormalised: neither folds.)
 */
export function foldablePairs(trace: Trace): Map<TracedCall, TracedCall> {
  const convByOutput = new Map(trace.calls.filter((c) => c.module instanceof Conv2d).map((c) => [c.outputId, c]));
  const pairs = new Map<TracedCall, TracedCall>();
  for (const call of trace.calls) {
    if (!(call.module instanceof BatchNorm2d)) continue;
    const conv = convByOutput.get(call.inputId);
    if (conv && trace.readers(call.inputId) === 1) pairs.set(call, conv);
  }
  return pairs;
}
