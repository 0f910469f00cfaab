// CIFAR data: readers, download, transforms, recipe pipelines, the loader, synthetic data.
export * from './cifar.js';
export { locate, loadSplit, loadSplits, loadDataset, type Found, type LoadOptions } from './source.js';
export { parseBinary, encodeBinary } from './binary.js';
export { parsePython } from './python.js';
export { readPickle, NdArray } from './numpy-pickle.js';
export { readTarGz, writeTarGz, type TarEntry } from './tar.js';
export { download, defaultDataDir, md5File, type DownloadOptions, type DownloadResult } from './download.js';
export { type Image, type FloatImage, image } from './image.js';
export { pad, crop, hflip, resizedCrop, normalize, cutout, normalizeTables } from './transforms.js';
export { resizeBilinear } from './resize.js';
export { randomCropParams, flipParam, resizedCropParams, cutoutParams, centreFallback, type Box } from './params.js';
export { Rng, sampleRng, epochOrder } from './rng.js';
export {
  pipeline,
  pipelineNames,
  cifar100TrainStats,
  cifar100TestStats,
  type PipelineName,
  type PipelineSpec,
  type Pipeline,
  type Stats,
  type SampleTransform,
} from './pipelines.js';
export { buildBatch } from './batch.js';
export {
  Loader,
  maxWorkers,
  shardOrder,
  type LoaderOptions,
  type Batch,
  type RawBatch,
  type Samples,
  type Shard,
} from './loader.js';
export {
  dataSourceText,
  describeData,
  generatedMarker,
  generatedSplit,
  syntheticSplit,
  writeSynthetic,
  type DataSource,
  type WriteSyntheticOptions,
} from './synthetic.js';
