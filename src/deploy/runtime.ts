// Running exported ONNX files in onnxruntime (the optional onnxruntime-node package, CPU): a
// session over a file, its logits for a batch, and the evaluation of a stream of batches with
// the same figures micronet's own evaluation gives.
import * as T from '../torch/index.js';
import { batchFigures, EvalTally, type EvalResult } from '../train/evaluate.js';
import { onnxInput, onnxOutput } from './export.js';

type Ort = typeof import('onnxruntime-node');

async function onnxruntime(): Promise<Ort> {
  try {
    return (await import('onnxruntime-node')) as Ort;
  } catch (e) {
    throw new Error(
      `running ONNX files needs the optional package onnxruntime-node (npm install onnxruntime-node; ` +
        `ONNXRUNTIME_NODE_INSTALL=skip spares its CUDA download): ${(e as Error).message}`,
    );
  }
}

/** An ONNX model loaded in onnxruntime. */
export class OnnxSession {
  private constructor(
    readonly path: string,
    private readonly ort: Ort,
    private readonly session: import('onnxruntime-node').InferenceSession,
  ) {}

  /** Loads `path` (a file export wrote, or any with an `input` and a `logits`); `threads` bounds onnxruntime's own pool. */
  static async open(path: string, options: { threads?: number } = {}): Promise<OnnxSession> {
    const ort = await onnxruntime();
    let session: import('onnxruntime-node').InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, {
        ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
      });
    } catch (e) {
      throw new Error(`${path}: onnxruntime cannot load it: ${(e as Error).message}`);
    }
    if (!session.inputNames.includes(onnxInput) || !session.outputNames.includes(onnxOutput))
      throw new Error(`${path}: expected an input '${onnxInput}' and an output '${onnxOutput}'`);
    return new OnnxSession(path, ort, session);
  }

  /** The logits of an NCHW float32 batch. */
  async logits(x: T.Tensor): Promise<T.Tensor> {
    const out = await this.session.run({ [onnxInput]: new this.ort.Tensor('float32', x.toFloat32Array(), x.shape) });
    const logits = out[onnxOutput]!;
    return T.tensor(logits.data as Float32Array, { shape: logits.dims as number[] });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Top-1, top-5 and loss of an ONNX model over batches (each batch's tensors are disposed). */
export async function evaluateOnnx(
  session: OnnxSession,
  batches: AsyncIterable<{ x: T.Tensor; y: T.Tensor }>,
): Promise<EvalResult> {
  const tally = new EvalTally();
  for await (const batch of batches) {
    try {
      const logits = await session.logits(batch.x);
      tally.add(batchFigures(logits, batch.y));
      logits.dispose();
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  return tally.result();
}
