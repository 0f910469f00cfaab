// What every network's configuration shares: the number of classes and how a bad one is refused.
import { shown } from '../text.js';

/** The most classes a classifier may have: beyond it a configuration is a mistake or a hostile file. */
export const maxClasses = 100_000;

/** What is wrong with a number of classes (empty when nothing). */
export function classesProblems(numClasses: unknown): string[] {
  return Number.isInteger(numClasses) && (numClasses as number) >= 1 && (numClasses as number) <= maxClasses
    ? []
    : [`numClasses must be an integer in 1..${maxClasses}, got ${shown(numClasses)}`];
}

/** Throws, naming the network, when its configuration has problems. */
export function refuseProblems(network: string, problems: readonly string[]): void {
  if (problems.length) throw new Error(`${network}: ${problems.join('; ')}`);
}
