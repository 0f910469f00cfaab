// A loader worker: builds the batches it is asked for and hands their buffers back (transferred,
// not copied). Imports no engine code.
import { parentPort, workerData } from 'node:worker_threads';
import { buildBatch, pipeline, type BatchReply, type BatchRequest, type WorkerSetup } from './batch.js';
import { SAMPLE } from './pipelines.js';

const setup = workerData as WorkerSetup;
const pipe = pipeline(setup.pipeline);
const port = parentPort!;

port.on('message', (m: BatchRequest) => {
  let reply: BatchReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const size = m.indices.length * SAMPLE;
    // Reuse the buffer the main thread gave back when it has the right size.
    const out = m.buffer && m.buffer.byteLength === size * 4 ? new Float32Array(m.buffer) : new Float32Array(size);
    buildBatch(setup.images, m.indices, pipe, setup.seed, m.epoch, m.channelsLast, out);
    reply = { id: m.id, buffer: out.buffer as ArrayBuffer };
    transfer = [out.buffer as ArrayBuffer];
  } catch (e) {
    reply = { id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(reply, transfer);
});
