// Runs a table of operator cases against the PyTorch oracle: same inputs, same upstream gradient,
// outputs and input gradients compared within each case's tolerance.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { assertClose, TorchOracle, type Tolerance } from './oracle.js';

export type Inputs = Record<string, T.Tensor>;
export type Output = T.Tensor | number | boolean;

export interface OpCase {
  name: string;
  /** Builds the inputs from a seeded generator. */
  inputs: (g: T.Generator) => Inputs;
  /** Our computation; several outputs as an array (the first one receives the upstream gradient). */
  ours: (x: Inputs) => Output | Output[];
  /** The same computation in PyTorch: an expression, or statements assigning `out`. */
  torch: string;
  /** Inputs whose gradients are compared. */
  grad?: string[];
  tol?: Tolerance;
  /** Seeds the default generators of both sides before the computation (dropout). */
  seed?: number;
}

/** fp32 through the same kernels: differences come only from summation order. */
export const FP32: Tolerance = { rtol: 1e-5, atol: 1e-6 };
export const EXACT: Tolerance = { rtol: 0, atol: 0 };

export function runCases(cases: OpCase[]): void {
  const oracle = new TorchOracle();
  after(() => oracle.close());
  for (const c of cases) {
    test(c.name, async () => {
      const g = new T.Generator(1234);
      const inputs = c.inputs(g);
      const sent = { ...inputs };
      const mine = Object.fromEntries(
        Object.entries(inputs).map(([k, v]) => [k, c.grad?.includes(k) ? v.clone().requiresGrad_() : v.clone()]),
      );
      if (c.seed !== undefined) T.manualSeed(c.seed);
      const result = c.ours(mine);
      const outs = Array.isArray(result) ? result : [result];
      let upstream: T.Tensor | undefined;
      if (c.grad?.length) {
        const first = outs[0];
        assert.ok(first instanceof T.Tensor, 'the first output must be a tensor to take gradients');
        upstream = T.randn(first.shape, { generator: g });
        const cast = upstream.to(first.dtype);
        first.backward(cast);
      }
      const answer = await oracle.run({
        code: c.torch,
        inputs: sent,
        grad: c.grad ?? [],
        ...(upstream ? { upstream } : {}),
        ...(c.seed !== undefined ? { seed: c.seed } : {}),
      });
      const tol = c.tol ?? FP32;
      assert.equal(outs.length, answer.outputs.length, 'number of outputs');
      outs.forEach((o, i) => {
        const theirs = answer.outputs[i]!;
        if (o instanceof T.Tensor)
          assertClose(o, theirs as Exclude<typeof theirs, number | boolean | null>, tol, `output ${i}`);
        else
          assert.ok(
            Math.abs(Number(o) - Number(theirs)) <= tol.atol + tol.rtol * Math.abs(Number(theirs)),
            `output ${i}: ${o} vs ${theirs}`,
          );
      });
      for (const name of c.grad ?? []) {
        const ours = mine[name]!.grad;
        const theirs = answer.grads[name];
        assert.ok(ours && theirs, `gradient of ${name} exists on both sides`);
        assertClose(ours, theirs, tol, `gradient of ${name}`);
      }
    });
  }
}
