// Data-parallel training on c10d (Gloo over loopback): two ranks end with identical parameters,
// equal to one process that emulates the two replicas step by step; a killed or hung worker
// stops the run with the rank named, and --resume finishes it with another number of processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { Loader, shardOrder, writeSynthetic } from '../src/data/index.js';
import { buildModel } from '../src/models/registry.js';
import { applyOverrides, findRecipe, type Recipe } from '../src/recipes/index.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { applyMasks, maskGradients } from '../src/prune/prune.js';
import { beginEpoch, learningRate, trainingLoss } from '../src/train/index.js';
import { createOptimizer } from '../src/optim/index.js';
import { worldFromEnv } from '../src/train/data-parallel.js';
import type { Module } from '../src/nn/index.js';
import { freePort } from '../src/cli/launch.js';
import { scratchDir } from './support/scratch.js';
import { dpData } from './support/dp-data.js';
import { cli } from './support/cli.js';

const worker = fileURLToPath(new URL('./support/dp-worker.js', import.meta.url));

// 160 images in global batches of 32: 5 steps an epoch, 10 in all, pruning before the 6th.
const recipe = applyOverrides(findRecipe('smoke'), [
  'model.config.width=0.0625',
  'data.batchSize=32',
  'data.workers=0',
  'epochs=2',
  'schedule.warmupEpochs=1',
  'schedule.milestones=[2]',
  'pruning.events=[{"epoch":2,"layers":"conv"}]',
]);

/** The TCP addresses a process listens on ("127.0.0.1:29500", "[::]:29500"), from /proc. */
function listening(pid: number): string[] {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return readlinkSync(`/proc/${pid}/fd/${fd}`);
          } catch {
            return '';
          }
        })
        .map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1])
        .filter((i): i is string => !!i),
    );
  } catch {
    return []; // gone
  }
  const out: string[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A' || !inodes.has(f[9]!)) continue; // 0A: LISTEN
      const [hex, port] = f[1]!.split(':') as [string, string];
      // IPv4 as one little-endian word; IPv6 as four.
      const bytes = (hex.match(/.{8}/g) ?? []).flatMap((w) => w.match(/../g)!.reverse()).map((b) => parseInt(b, 16));
      const addr = v6
        ? `[${Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(':')}]`
        : bytes.join('.');
      out.push(`${addr}:${parseInt(port, 16)}`);
    }
  }
  return out;
}

/**
 * Runs the recipe as `size` ranks of the library's trainer; resolves with each rank's final state
 * and every address a rank was seen listening on while it ran.
 */
async function runRanks(
  r: Recipe,
  size: number,
): Promise<{ states: Map<string, T.Tensor>[]; port: number; listened: Set<string> }> {
  const out = scratchDir();
  const port = await freePort();
  const listened = new Set<string>();
  const children: ChildProcess[] = [];
  const watch = setInterval(() => {
    for (const c of children) for (const a of listening(c.pid!)) listened.add(a);
  }, 50);
  const codes = await Promise.all(
    Array.from(
      { length: size },
      (_, rank) =>
        new Promise<number>((resolve) => {
          const env = {
            ...process.env,
            MASTER_ADDR: '127.0.0.1',
            MASTER_PORT: String(port),
            WORLD_SIZE: String(size),
            RANK: String(rank),
            OMP_NUM_THREADS: '1',
          };
          const child = spawn(process.execPath, [worker, JSON.stringify(r), out], {
            env,
            stdio: ['ignore', 'ignore', 'inherit'],
          });
          children.push(child);
          child.on('exit', (code) => resolve(code ?? -1));
        }),
    ),
  ).finally(() => clearInterval(watch));
  assert.deepEqual(codes, Array(size).fill(0));
  assert.equal(
    readdirSync(out).filter((f) => f.startsWith('events.out.tfevents.')).length,
    1,
    "rank 0 alone writes the run's files",
  );
  return {
    states: Array.from({ length: size }, (_, rank) => readSafetensors(join(out, `rank${rank}.safetensors`)).tensors),
    port,
    listened,
  };
}

/**
 * One process doing what `size` replicas do: each global batch split as the ranks' shards split it,
 * one forward and backward per replica (its own BatchNorm batch statistics, its own dropout draws
 * from the same generator state), gradients summed at 1/size each, rank 0's running statistics kept.
 */
async function emulate(r: Recipe, size: number): Promise<Module> {
  T.manualSeed(r.seed);
  const { model } = buildModel(r.model.name, r.model.config, { generator: new T.Generator(r.seed) });
  const optimizer = createOptimizer(model.namedParameters(), r.optimizer);
  const loader = new Loader({
    data: dpData().train,
    pipeline: r.data.trainPipeline,
    batchSize: r.data.batchSize,
    seed: r.seed,
    shuffle: true,
  });
  const pruneEpochs = r.pruning.events.map((e) => e.epoch);
  const running = () =>
    model
      .namedBuffers()
      .filter(([name]) => !name.endsWith('.mask'))
      .map(([, t]) => t);
  const dropout = T.Generator.default('cpu');
  for (let epoch = 1; epoch <= r.epochs; epoch++) {
    beginEpoch(model, optimizer, r, epoch);
    let batch = 0;
    for await (const b of loader.epoch(epoch)) {
      const lr = learningRate(
        r.schedule,
        pruneEpochs,
        { epoch, batch: batch++, batchesPerEpoch: loader.length },
        r.quantization,
      );
      T.tidy(() => {
        const start = dropout.getState();
        let rank0: T.Tensor[] = [];
        for (let rank = 0; rank < size; rank++) {
          if (rank > 0) dropout.setState(start);
          // Rank r's batch holds the global batch's samples r, r + size, ... (DistributedSampler's striding).
          const rows = T.tensor(
            Int32Array.from(
              shardOrder(
                Int32Array.from({ length: b.size }, (_, i) => i),
                { rank, count: size, pad: false },
              ),
            ),
            { shape: [b.size / size] },
          ).to('int64');
          const loss = trainingLoss(
            model.forward(b.x.indexSelect(0, rows), true),
            b.y.indexSelect(0, rows),
            r.loss,
          ).mul(1 / size);
          loss.backward();
          if (rank === 0) rank0 = running().map((t) => t.clone());
        }
        T.noGrad(() => running().forEach((t, i) => t.copy_(rank0[i]!)));
        maskGradients(model, r.pruning.gradientMasking);
        optimizer.step(lr);
        optimizer.zeroGrad();
        applyMasks(model, optimizer);
      });
      b.x.dispose();
      b.y.dispose();
    }
  }
  await loader.close();
  return model;
}

test('two ranks on loopback: identical parameters, buffers and masks after 10 steps across a pruning event, equal to one process emulating both replicas', async () => {
  const { states, port, listened } = await runRanks(recipe, 2);
  const [rank0, rank1] = states as [Map<string, T.Tensor>, Map<string, T.Tensor>];
  // The rendezvous store and Gloo's connections listen on the loopback interface only.
  assert.ok(
    listened.has(`127.0.0.1:${port}`),
    `the store was seen listening on 127.0.0.1:${port} (seen: ${[...listened].join(', ')})`,
  );
  assert.deepEqual(
    [...listened].filter((a) => !a.startsWith('127.0.0.1:')),
    [],
    'nothing listens beyond loopback',
  );
  process.stdout.write(`# listening while the ranks ran: ${[...listened].join(', ')}\n`);
  assert.deepEqual([...rank1.keys()], [...rank0.keys()]);
  for (const [name, t] of rank0)
    assert.deepEqual(rank1.get(name)!.data(), t.data(), `${name}: identical on both ranks`);
  const zeros = [...rank0]
    .filter(([n]) => n.endsWith('.mask'))
    .reduce((s, [, m]) => s + m.numel - T.tidy(() => m.countNonzero().item()), 0);
  assert.ok(zeros > 1000, `the pruning event pruned (${zeros} weights)`);

  const threads = T.getNumThreads();
  T.setNumThreads(1); // as each worker ran
  const model = await emulate(recipe, 2);
  T.setNumThreads(threads);
  let worst = 0;
  for (const [name, t] of model.stateDict()) {
    const d = T.tidy(() => {
      const a = t.to('float64'),
        b = rank0.get(name)!.to('float64');
      return a.sub(b).abs().max().item() / Math.max(b.abs().max().item(), 1e-12);
    });
    worst = Math.max(worst, d);
    assert.ok(d <= 1e-5, `${name}: ${d} (relative to its largest value)`);
  }
  model.dispose();
  process.stdout.write(`# largest difference from the emulation: ${worst} of a tensor's largest value\n`);
});

test('the torchrun environment: read and checked', () => {
  assert.equal(worldFromEnv({}), null);
  assert.deepEqual(
    worldFromEnv({ WORLD_SIZE: '4', RANK: '2', LOCAL_RANK: '0', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500' }),
    { host: '10.0.0.1', port: 29500, rank: 2, size: 4, localRank: 0 },
  );
  assert.throws(
    () => worldFromEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_PORT: '29500' }),
    /RANK=2 must be an integer in 0\.\.1/,
  );
  assert.throws(() => worldFromEnv({ WORLD_SIZE: '2', RANK: '0' }), /MASTER_PORT=\(unset\)/);
  const refused = spawnSync(process.execPath, [cli, 'train', '--recipe', 'smoke', '--nproc', '2'], {
    encoding: 'utf8',
    env: { ...process.env, WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' },
  });
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--nproc starts worker processes/);
  const uneven = spawnSync(process.execPath, [cli, 'train', '--recipe', 'smoke', '--nproc', '3'], { encoding: 'utf8' });
  assert.equal(uneven.status, 2);
  assert.match(uneven.stderr, /--nproc 3: the batch of 64 cannot be split over 3 processes/);
});

test('Ctrl-C stops both ranks at one step; a killed worker stops the run naming its rank; a hung one is named after the timeout; --resume finishes it on one process', async () => {
  const dir = scratchDir();
  const data = join(dir, 'data');
  writeSynthetic(data, { dataset: 'cifar100', train: 320, test: 64, seed: 4 });
  const out = join(dir, 'run');
  const sets = [
    'model.config.width=0.0625',
    'data.batchSize=32',
    'data.workers=0',
    'epochs=6',
    'schedule.warmupEpochs=1',
    'schedule.milestones=[5]',
    'pruning.events=[{"epoch":3,"layers":"conv"}]',
  ].flatMap((s) => ['--set', s]);
  // Each launch below acts once the run has saved one more epoch: 6 epochs leave room for all four.
  const epochsSaved = () =>
    existsSync(join(out, 'metrics.jsonl'))
      ? readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length
      : 0;
  /** Starts a launcher; `act` gets the worker pids once the run has saved one more epoch. */
  let launcher: ChildProcess | undefined;
  const launch = (args: string[], act: (pids: number[]) => void) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [cli, 'train', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      launcher = child;
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
      });
      const saved = epochsSaved();
      const poll = setInterval(() => {
        if (epochsSaved() === saved) return;
        clearInterval(poll);
        act([...stderr.matchAll(/rank \d+ pid (\d+)/g)].map((m) => Number(m[1])));
      }, 50);
      child.on('exit', (code) => {
        clearInterval(poll);
        resolve({ code, stderr });
      });
    });

  const interrupted = await launch(['--recipe', 'smoke', ...sets, '--data', data, '--out', out, '--nproc', '2'], () =>
    launcher!.kill('SIGINT'),
  );
  assert.equal(interrupted.code, 130, interrupted.stderr);
  assert.equal(
    interrupted.stderr.match(/interrupted: saving after this step/g)?.length,
    1,
    'rank 0 speaks for the run',
  );
  assert.match(interrupted.stderr, /stopped (at|after) epoch \d+/);

  const killed = await launch(['--resume', out, '--nproc', '2'], (pids) => process.kill(pids[1]!, 'SIGKILL'));
  assert.equal(killed.code, 1, killed.stderr);
  assert.match(
    killed.stderr,
    /micronet: rank 1 \(pid \d+\) died of SIGKILL \(its last step was epoch \d+, batch \d+\); the run stopped\. Nothing is lost: .*last\.safetensors holds the run up to epoch \d+; continue with micronet train --resume .* --nproc 2/,
  );
  const stoppedAt = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').at(-1)!) as {
    epoch: number;
  };
  assert.ok(stoppedAt.epoch < 6);

  const hung = await launch(['--resume', out, '--nproc', '2', '--timeout', '3'], (pids) =>
    process.kill(pids[1]!, 'SIGSTOP'),
  );
  assert.equal(hung.code, 1, hung.stderr);
  assert.match(hung.stderr, /micronet \(rank 0\): /);
  assert.match(
    hung.stderr,
    /micronet: rank 1 \(pid \d+\) stopped answering \(its last step was epoch \d+, batch \d+\) and was killed; the run stopped/,
  );

  const resumed = spawnSync(process.execPath, [cli, 'train', '--resume', out], { encoding: 'utf8' }); // on one process: the same global batch
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming smoke at epoch \d+/);
  const epochs = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { epoch: number }).epoch);
  assert.deepEqual(epochs, [1, 2, 3, 4, 5, 6]);
});

test('--nproc 1 runs one worker in a group of one, and ends with exactly the parameters of the same run in one process', () => {
  const dir = scratchDir();
  const data = join(dir, 'data');
  writeSynthetic(data, { dataset: 'cifar100', train: 128, test: 32, seed: 5 });
  const sets = [
    'model.config.width=0.0625',
    'data.batchSize=32',
    'data.workers=0',
    'epochs=2',
    'schedule.warmupEpochs=1',
    'schedule.milestones=[2]',
    'pruning.events=[{"epoch":2,"layers":"conv"}]',
  ].flatMap((s) => ['--set', s]);
  const env = { ...process.env, OMP_NUM_THREADS: '1' };
  const alone = spawnSync(
    process.execPath,
    [cli, 'train', '--recipe', 'smoke', ...sets, '--data', data, '--out', join(dir, 'alone'), '--device', 'cpu'],
    { encoding: 'utf8', env },
  );
  assert.equal(alone.status, 0, alone.stderr);
  const grouped = spawnSync(
    process.execPath,
    [cli, 'train', '--recipe', 'smoke', ...sets, '--data', data, '--out', join(dir, 'grouped'), '--nproc', '1'],
    { encoding: 'utf8', env },
  );
  assert.equal(grouped.status, 0, grouped.stderr);
  assert.match(grouped.stderr, /1 worker processes \(1 thread each\): rank 0 pid \d+/);
  const [a, b] = ['alone', 'grouped'].map((run) => readSafetensors(join(dir, run, 'last.safetensors')).tensors);
  assert.deepEqual([...b!.keys()], [...a!.keys()]);
  for (const [name, t] of a!) assert.deepEqual(b!.get(name)!.data(), t.data(), `${name}: the same after 2 epochs`);
});
