// Records one forward pass: every leaf module's input and output shapes, in execution order
// (a module called twice appears twice) and the leaves in registration order.
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';

/** One call of a leaf module during the traced forward pass. */
interface LeafCall {
  /** The module's name in the model. */
  name: string;
  module: Module;
  /** Per-sample shapes (batch dimension removed): [C, H, W] or [features]. */
  input: number[];
  output: number[];
}

/** A traced forward pass: the leaf calls in execution order, the leaves in registration order. */
export interface Trace {
  calls: LeafCall[];
  leaves: [string, Module][];
}

/** Runs one eval forward pass on a single zero sample of inputShape (CHW) and records every leaf module's call. */
export function traceForward(model: Module, inputShape: readonly number[] = [3, 32, 32]): Trace {
  const leaves = model.namedModules().filter(([, m]) => m.children().length === 0);
  const calls: LeafCall[] = [];
  const patched: Module[] = [];
  try {
    for (const [name, m] of leaves) {
      const original = m.forward;
      m.forward = function traced(this: Module, x: T.Tensor, training: boolean): T.Tensor {
        const y = original.call(this, x, training);
        calls.push({ name, module: m, input: x.shape.slice(1), output: y.shape.slice(1) });
        return y;
      };
      patched.push(m);
    }
    const device = model.parameters()[0]?.device ?? 'cpu';
    T.tidy(() =>
      T.noGrad(() => {
        model.forward(T.zeros([1, ...inputShape], { device }), false);
      }),
    );
  } finally {
    for (const m of patched) delete (m as unknown as { forward?: unknown }).forward; // back to the prototype's method
  }
  return { calls, leaves };
}
