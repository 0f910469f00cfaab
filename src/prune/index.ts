// Magnitude pruning with masks.
export * from './prune.js';
