// Seeing runs: the HTML report, the summary it leads with, and TensorBoard event files.
export { renderReport } from './html.js';
export { readRun, type RunRecord } from './run.js';
export { formatSummary, summariseRun, summaryRows, type RunSummary, type SummaryRow } from './summary.js';
export { EventFileWriter, maskedCrc32c, tfRecord } from '../io/tensorboard.js';
