// The package's install step: builds the addon against libtorch (see libtorch.cjs), or, when
// MICRONET_ADDON names an addon already built against the same libtorch, copies that one.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const target = path.join(__dirname, 'build', 'Release', 'micronet_native.node');
const prebuilt = process.env.MICRONET_ADDON;
if (prebuilt) {
  if (!fs.existsSync(prebuilt)) {
    process.stderr.write(`micronet install: MICRONET_ADDON=${prebuilt} does not exist\n`);
    process.exit(1);
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(prebuilt, target);
  process.stdout.write(`micronet install: using the addon ${prebuilt}\n`);
} else {
  const r = spawnSync('node-gyp', ['rebuild', '--directory', __dirname, '-j', '2'], {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (r.error) {
    process.stderr.write(`micronet install: cannot run node-gyp (${r.error.message})\n`);
    process.exit(1);
  }
  process.exit(r.status ?? 1);
}
