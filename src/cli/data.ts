// `micronet data download|generate`: get the official CIFAR archives, or write a synthetic set.
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import { defaultDataDir, download } from '../data/download.js';
import { datasetNames, type DatasetName, type Version } from '../data/cifar.js';
import { writeSynthetic } from '../data/synthetic.js';

export const dataCommand = defineCommand({
  name: 'data',
  positionals: 'download|generate',
  summary:
    'download [--dataset --version --dir] fetches, checks and extracts CIFAR; generate --dir [--train --test --seed] writes a synthetic set',
  options: {
    dataset: { type: 'string', help: 'which data set', choices: datasetNames, default: 'cifar100' },
    version: {
      type: 'string',
      help: 'official version to fetch (generate: which to write, or both)',
      choices: ['binary', 'python', 'both'],
      default: 'binary',
    },
    dir: { type: 'string', help: `data directory (download default: ${defaultDataDir()})` },
    url: { type: 'string', help: 'download: fetch from this URL instead (a mirror)' },
    train: { type: 'number', help: 'generate: training images', default: 1000 },
    test: { type: 'number', help: 'generate: test images', default: 200 },
    seed: { type: 'number', help: 'generate: seed', default: 0 },
    archives: { type: 'boolean', help: 'generate: also write the .tar.gz archives' },
  },
  async run(o) {
    const action = o._[0];
    const dataset = o.dataset as DatasetName;
    const versions: Version[] = o.version === 'both' ? ['binary', 'python'] : [o.version as Version];
    if (action === 'download') {
      for (const version of versions)
        await download({ dataset, version, dir: o.dir ?? defaultDataDir(), ...(o.url ? { url: o.url } : {}) });
    } else if (action === 'generate') {
      if (!o.dir) throw new UsageError('`micronet data generate` needs --dir');
      for (const n of [o.train, o.test])
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--train and --test need positive integers, not ${n}`);
      for (const path of writeSynthetic(o.dir, {
        dataset,
        train: o.train,
        test: o.test,
        seed: o.seed,
        versions,
        archives: o.archives === true,
      }))
        console.log(`wrote ${path}`);
    } else
      throw new UsageError(
        `\`micronet data\` needs an action: download or generate${action ? `, not '${action}'` : ''}`,
      );
  },
});
