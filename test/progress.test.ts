// Progress: the estimate of the time left, and the lines a log file gets, on a clock the test moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clock, Eta, progressReporter } from '../src/cli/progress.js';

test("the time left: steps at this epoch's pace, then the remaining epochs at the last whole epoch's wall time", () => {
  let now = 0;
  const eta = new Eta(3, () => now);
  assert.equal(eta.step(1, 1, 10), null, 'no pace after one step');
  now = 2;
  assert.deepEqual(
    eta.step(1, 2, 10),
    { epoch: 16, run: 16 + 2 * 20 },
    '2 s a step: 8 steps left, then 2 epochs of 10 steps',
  );
  now = 18;
  eta.step(1, 10, 10);
  now = 25; // evaluation and checkpoint: 7 s
  assert.equal(eta.epochEnd(1), 2 * 27, 'a whole epoch took 27 s (18 from the first step on, and that step itself)');
  eta.step(2, 1, 10);
  now = 26;
  assert.deepEqual(eta.step(2, 2, 10), { epoch: 8, run: 8 + 27 });
});

test('a resumed epoch is not taken for a whole one', () => {
  let now = 0;
  const eta = new Eta(2, () => now);
  eta.step(1, 6, 10);
  now = 4;
  assert.deepEqual(eta.step(1, 8, 10), { epoch: 4, run: 4 + 20 });
  assert.equal(eta.epochEnd(1), null);
});

test('clock formats seconds as m:ss or h:mm:ss', () => {
  assert.equal(clock(0), '0:00');
  assert.equal(clock(59.6), '1:00');
  assert.equal(clock(3599), '59:59');
  assert.equal(clock(3600 + 62), '1:01:02');
});

test('without a terminal, a step line every --log-interval steps, or else one every 30 seconds', () => {
  const info = (batch: number) => ({
    epoch: 1,
    batch,
    batches: 6,
    loss: 2.5,
    lr: 0.1,
    imagesPerSecond: 100,
    model: null as never,
  });
  const stepsOf = (lines: string[]) => lines.map((l) => /step (\d+)\/6/.exec(l)?.[1]).filter(Boolean);
  const every2: string[] = [];
  const byCount = progressReporter(3, {
    logInterval: 2,
    stream: { isTTY: false, write: (t: string) => every2.push(t) > 0 },
  });
  for (let b = 1; b <= 6; b++) byCount.step!(info(b));
  assert.deepEqual(stepsOf(every2), ['2', '4', '6']);
  assert.match(every2[0]!, /^epoch 1\/3 step 2\/6 {2}loss 2\.5000 {2}lr 0\.100 {2}100 img\/s/);
  assert.ok(
    every2.every((l) => !l.includes('\r')),
    'plain lines, no redraws',
  );

  let t = 0;
  const timed: string[] = [];
  const byTime = progressReporter(3, {
    stream: { isTTY: false, write: (s: string) => timed.push(s) > 0 },
    now: () => t,
  });
  for (let b = 1; b <= 6; b++) {
    t += 12; // steps of 12 s: 30 s have passed at step 3 (36 s), then again at step 6 (72 s)
    byTime.step!(info(b));
  }
  assert.deepEqual(stepsOf(timed), ['3', '6']);
});
