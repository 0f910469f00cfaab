// The progress line's estimate of the time left, on a clock the test moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clock, Eta } from '../src/cli/progress.js';

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
