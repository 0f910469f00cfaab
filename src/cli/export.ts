// `micronet export`: a checkpoint (float, pruned or quantized) to an ONNX file that onnxruntime,
// TensorRT or OpenVINO run: float with BatchNorm folded, or QDQ for a quantized model.
import { createRequire } from 'node:module';
import { loadAnyCheckpoint } from '../checkpoint/model-file.js';
import { defaultOpset, exportOnnx, maxOpset, minOpset } from '../deploy/export.js';
import { writeFileAtomic } from '../io/atomic.js';
import { planOf } from '../quant/prepare.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import { threadsOption, useThreads } from './options.js';

export const exportCommand = defineCommand({
  name: 'export',
  summary:
    'export a checkpoint to ONNX: float with BatchNorm folded, or QDQ (int8 weights, uint8 inputs) when quantized',
  options: {
    checkpoint: {
      type: 'string',
      help: 'a micronet checkpoint (model, training or quantized) or a PyTorch .pth',
      required: true,
    },
    out: { type: 'string', help: 'the .onnx file to write', required: true },
    opset: { type: 'number', help: `the ONNX opset (${minOpset}..${maxOpset})`, default: defaultOpset },
    model: { type: 'string', help: 'the network of a .pth checkpoint', default: 'googlenet' },
    threads: threadsOption,
  },
  run(o) {
    useThreads(o.threads);
    if (!Number.isInteger(o.opset) || o.opset < minOpset || o.opset > maxOpset)
      throw new UsageError(`--opset must be an integer in ${minOpset}..${maxOpset}, not ${o.opset}`);
    if (!o.out.endsWith('.onnx')) throw new UsageError(`--out ${o.out}: an ONNX file's name ends in .onnx`);
    const { model, name } = loadAnyCheckpoint(o.checkpoint, o.model);
    try {
      const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };
      const bytes = exportOnnx(model, { opset: o.opset, producerVersion: version });
      writeFileAtomic(o.out, bytes);
      const kind = planOf(model) ? 'QDQ (quantized)' : 'float, BatchNorm folded';
      console.log(
        `exported ${name} (${kind}) at opset ${o.opset}: ${bytes.byteLength.toLocaleString('en-US')} bytes -> ${o.out}`,
      );
    } finally {
      model.dispose();
    }
  },
});
