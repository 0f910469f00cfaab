// `micronet bench --deploy`: the seed GoogLeNet exported to ONNX and run in onnxruntime on the
// CPU, float (BatchNorm folded) and QDQ int8 (8-bit weights and inputs), at the bench's batch
// (throughput) and at batch 1 (latency), beside PyTorch's fastest eval of the same network.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../torch/index.js';
import { buildModel } from '../models/registry.js';
import { findRecipe } from '../recipes/index.js';
import { planFor, prepareQuantized, setCalibrating, setObserving } from '../quant/prepare.js';
import { exportOnnx } from '../deploy/export.js';
import { OnnxSession } from '../deploy/runtime.js';
import { median, timeAsync } from './timing.js';

/** One onnxruntime configuration's figures. */
export interface DeployFigures {
  name: 'onnxruntime-fp32' | 'onnxruntime-int8';
  eval_img_s: number;
  /** PyTorch's fastest eval of the same network at the same batch (the bench's other rows). */
  eval_img_s_pytorch: number | null;
  /** Milliseconds for one image. */
  latency_ms_batch1: number;
}

/** The seed network's ONNX files: float, and int8 QDQ with ranges calibrated on random batches. */
function exportSeed(dir: string): { fp32: string; int8: string } {
  const build = () =>
    buildModel('googlenet', findRecipe('micronet-seed').model.config, { generator: new T.Generator(0) }).model;
  const fp32 = join(dir, 'fp32.onnx');
  const float = build();
  writeFileSync(fp32, exportOnnx(float));
  float.dispose();
  const quantized = build();
  const eightBit = { weightBits: 8, actBits: 8, first: null, last: null, averagingConstant: 0.01 };
  prepareQuantized(quantized, planFor(quantized, eightBit));
  setCalibrating(quantized, true);
  const g = new T.Generator(1);
  T.noGrad(() => {
    for (let i = 0; i < 2; i++) T.tidy(() => quantized.forward(T.randn([8, 3, 32, 32], { generator: g }), false));
  });
  setCalibrating(quantized, false);
  setObserving(quantized, false);
  const int8 = join(dir, 'int8.onnx');
  writeFileSync(int8, exportOnnx(quantized));
  quantized.dispose();
  return { fp32, int8 };
}

/** Throughput at `batch` and batch-1 latency of both exports, with onnxruntime on this process's thread count. */
export async function benchDeploy(
  o: { batch: number; reps: number },
  pytorchEval: number | null,
  say: (what: string) => void,
): Promise<DeployFigures[]> {
  const dir = mkdtempSync(join(tmpdir(), 'micronet-deploy-'));
  try {
    const files = exportSeed(dir);
    const rows: DeployFigures[] = [];
    for (const [name, file] of [
      ['onnxruntime-fp32', files.fp32],
      ['onnxruntime-int8', files.int8],
    ] as const) {
      say(name);
      const session = await OnnxSession.open(file, { threads: T.getNumThreads() });
      try {
        const seconds = async (n: number) => {
          const x = T.randn([n, 3, 32, 32], { generator: new T.Generator(2) });
          try {
            return median(await timeAsync(async () => (await session.logits(x)).dispose(), o.reps));
          } finally {
            x.dispose();
          }
        };
        rows.push({
          name,
          eval_img_s: o.batch / (await seconds(o.batch)),
          eval_img_s_pytorch: pytorchEval,
          latency_ms_batch1: 1000 * (await seconds(1)),
        });
      } finally {
        await session.dispose();
      }
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
