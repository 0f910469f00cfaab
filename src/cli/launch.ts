// `--nproc N`: N local worker processes of the same command, each given the torchrun environment
// (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK) and its share of the cores. The
// launcher watches them: when one dies or fails, the others are stopped and the run ends with an
// error naming the rank, what happened to it and where it was; Ctrl-C reaches every worker, which
// all stop at the same step and save.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('./main.js', import.meta.url));

/** What a worker tells the launcher after each step. */
interface WorkerProgress {
  epoch: number;
  batch: number;
}

/** A free TCP port on loopback for the rendezvous. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Worker {
  rank: number;
  child: ChildProcess;
  progress: WorkerProgress | null;
  exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null;
}

const where = (w: Worker) =>
  w.progress ? `its last step was epoch ${w.progress.epoch}, batch ${w.progress.batch}` : 'before its first step';

/**
 * Runs `micronet <args>` as `nproc` ranks; resolves with the exit code the launcher should end
 * with, after printing what went wrong if something did (`afterFailure` adds how to go on).
 */
export async function launchWorkers(
  nproc: number,
  args: string[],
  afterFailure: () => string,
  requestedThreads?: number,
): Promise<number> {
  const port = await freePort();
  // Each rank's engine threads: --threads, else OMP_NUM_THREADS, else the cores shared out.
  const threads = String(
    requestedThreads ?? (process.env.OMP_NUM_THREADS || Math.max(1, Math.floor(availableParallelism() / nproc))),
  );
  const workers: Worker[] = Array.from({ length: nproc }, (_, rank) => {
    const env = {
      ...process.env,
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      WORLD_SIZE: String(nproc),
      RANK: String(rank),
      LOCAL_RANK: String(rank),
      OMP_NUM_THREADS: threads,
    };
    // Rank 0 speaks for the run; the others only report errors. Each worker has its own process
    // group, so that Ctrl-C in a terminal reaches it once, through the launcher.
    const child = spawn(process.execPath, [cli, ...args], {
      env,
      detached: true,
      stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'inherit', 'ipc'],
    });
    return { rank, child, progress: null, exit: null };
  });
  process.stderr.write(
    `${nproc} worker processes (${threads} thread${threads === '1' ? '' : 's'} each): ${workers.map((w) => `rank ${w.rank} pid ${w.child.pid}`).join(', ')}\n`,
  );

  // Ctrl-C and SIGTERM are passed on; a worker whose launcher is gone stops as if told to (train.ts).
  const forward = (signal: NodeJS.Signals) => {
    for (const w of workers) if (!w.exit) w.child.kill(signal);
  };
  const onSignal = (signal: NodeJS.Signals) => forward(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let killTimer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve) => {
      let running = nproc;
      for (const w of workers) {
        w.child.on('message', (m: WorkerProgress) => {
          w.progress = m;
        });
        w.child.on('exit', (code, signal) => {
          w.exit = { code, signal, at: Date.now() };
          // 130 and 143: stopped when told to (the others are still saving, and are left to).
          if ((signal || (code !== 0 && code !== 130 && code !== 143)) && !killTimer) {
            // One rank is gone: the others cannot go on. Those blocked in a collective fail by
            // themselves once they see it; any still running after a grace period are killed.
            killTimer = setTimeout(() => forward('SIGKILL'), 5000);
          }
          if (--running === 0) resolve();
        });
      }
    });
  } finally {
    clearTimeout(killTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const failed = workers.filter((w) => w.exit!.code !== 0 || w.exit!.signal);
  if (!failed.length) return 0;
  // All stopped by Ctrl-C or SIGTERM (130, 143) and saved: the launcher ends as they did.
  if (failed.every((w) => w.exit!.code === 130 || w.exit!.code === 143)) return failed[0]!.exit!.code!;
  process.stderr.write(`micronet: ${culprit(workers)}; the run stopped. ${afterFailure()}\n`);
  return 1;
}

/** Which rank brought the run down: one that died of a signal, else one killed for hanging, else the first to fail. */
function culprit(workers: Worker[]): string {
  const died = workers.filter((w) => w.exit!.signal && !killedByUs(w, workers));
  if (died.length)
    return died.map((w) => `rank ${w.rank} (pid ${w.child.pid}) died of ${w.exit!.signal} (${where(w)})`).join('; ');
  const hung = workers.filter((w) => killedByUs(w, workers));
  if (hung.length)
    return hung
      .map((w) => `rank ${w.rank} (pid ${w.child.pid}) stopped answering (${where(w)}) and was killed`)
      .join('; ');
  const first = workers.filter((w) => w.exit!.code !== 0).sort((a, b) => a.exit!.at - b.exit!.at)[0]!;
  return `rank ${first.rank} (pid ${first.child.pid}) failed with exit code ${first.exit!.code} (${where(first)}): its error is above`;
}

/** A worker the launcher itself killed: still running five seconds after another rank had ended. */
function killedByUs(w: Worker, workers: Worker[]): boolean {
  const firstEnd = Math.min(...workers.filter((o) => o.exit!.code !== 0 || o.exit!.signal).map((o) => o.exit!.at));
  return w.exit!.signal === 'SIGKILL' && w.exit!.at - firstEnd >= 4500;
}
