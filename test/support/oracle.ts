// Client of the PyTorch oracle (test/support/oracle.py, run by the project's torch: the addon's engine).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as T from '../../src/torch/index.js';
import { PythonProcess, torchPython } from '../../src/bench/python-process.js';

export { torchPython };

const script = fileURLToPath(new URL('../../../test/support/oracle.py', import.meta.url));

export interface Encoded {
  dtype: T.DType;
  shape: number[];
  data: string;
}
export interface OracleRequest {
  code: string;
  inputs: Record<string, T.Tensor>;
  grad?: string[];
  upstream?: T.Tensor;
  seed?: number;
}
export interface OracleAnswer {
  outputs: (Encoded | number | boolean | null)[];
  grads: Record<string, Encoded | null>;
}

export function encode(t: T.Tensor): Encoded {
  const values = t.data();
  return {
    dtype: t.dtype,
    shape: t.shape,
    data: Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64'),
  };
}

/** A decoded oracle tensor as float64 values, with its dtype and shape. */
export function decode(e: Encoded): { dtype: T.DType; shape: number[]; values: Float64Array } {
  const t = T.tensor(new Uint8Array(Buffer.from(e.data, 'base64')), { dtype: e.dtype, shape: e.shape });
  const f = t.to('float64');
  const values = f.data<'float64'>();
  t.dispose();
  f.dispose();
  return { dtype: e.dtype, shape: e.shape, values };
}

export class TorchOracle {
  readonly #process = new PythonProcess(script, 'PyTorch oracle');

  async run(request: OracleRequest): Promise<OracleAnswer> {
    const answer = await this.#process.request<OracleAnswer & { error?: string }>({
      code: request.code,
      threads: T.getNumThreads(),
      inputs: Object.fromEntries(Object.entries(request.inputs).map(([k, v]) => [k, encode(v)])),
      grad: request.grad ?? [],
      ...(request.upstream ? { upstream: encode(request.upstream) } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
    });
    if (answer.error) throw new Error(`PyTorch oracle failed on \`${request.code}\`: ${answer.error}`);
    return answer;
  }

  close(): void {
    this.#process.close();
  }
}

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** Asserts |ours - theirs| <= atol + rtol*|theirs| elementwise, with the same dtype and shape. */
/** max |a-b| / max |b|: differences relative to the tensor's scale (gradients span many magnitudes). */
export function relativeError(a: T.Tensor, b: T.Tensor): number {
  return T.tidy(() => {
    const scale = b.abs().max().item();
    return a.sub(b).abs().max().item() / (scale || 1);
  });
}

export function assertClose(ours: T.Tensor, theirs: Encoded, tol: Tolerance, what: string): void {
  const expected = decode(theirs);
  assert.equal(ours.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(ours.shape, expected.shape, `${what}: shape`);
  const f = ours.to('float64');
  const got = f.data<'float64'>();
  f.dispose();
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < got.length; i++) {
    const e = expected.values[i]!;
    const g = got[i]!;
    if (Number.isNaN(e) && Number.isNaN(g)) continue;
    const excess = Math.abs(g - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      worstAt = i;
    }
  }
  assert.ok(
    worstAt < 0,
    `${what}: element ${worstAt} is ${got[worstAt]}, PyTorch has ${expected.values[worstAt]} (beyond rtol ${tol.rtol}, atol ${tol.atol})`,
  );
}
