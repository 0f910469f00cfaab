// The package's install step: builds the addon against libtorch (see libtorch.cjs), or, when
// MICRONET_ADDON names an addon already built against the same libtorch, copies that one.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const target = path.join(__dirname, 'build', 'Release', 'micronet_native.node');

/** Stops the install, saying what MICRONET_ADDON must name instead. */
function refuse(given, why) {
  process.stderr.write(
    `micronet install: MICRONET_ADDON=${given} ${why}. It must name a micronet_native.node built against ` +
      "the same libtorch (a micronet checkout's native/build/Release/micronet_native.node), or be unset to " +
      'build the addon here.\n',
  );
  process.exit(1);
}

/** Copies a built addon in place of a build, once it is known to load as micronet's. */
function usePrebuilt(given) {
  // npm runs this in the package's own directory; a relative path means one from where npm was run.
  const file = path.resolve(process.env.INIT_CWD ?? process.cwd(), given);
  const where = file === given ? '' : ` (${file})`;
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) refuse(given, `does not exist${where}`);
  if (!stat.isFile()) refuse(given, `is not a file${where}`);
  const loaded = { exports: {} };
  try {
    process.dlopen(loaded, file); // as a native module whatever its name ends with
  } catch (e) {
    refuse(given, `does not load (${String(e.message).split('\n')[0]})`);
  }
  const engine = loaded.exports;
  if (typeof engine.engineVersions !== 'function') refuse(given, "is not micronet's addon");
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(file, target);
  process.stdout.write(`micronet install: using the addon ${file} (libtorch ${engine.engineVersions().libtorch})\n`);
}

/** Builds the addon with node-gyp. */
function build() {
  const args = ['rebuild', '--directory', __dirname, '-j', '2'];
  // node-gyp downloads Node's headers unless told where some are: the running node's own, where
  // its installation has them, let the build work offline.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi')))
    args.push(`--nodedir=${prefix}`);
  const r = spawnSync('node-gyp', args, { stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.error) {
    process.stderr.write(`micronet install: cannot run node-gyp (${r.error.message})\n`);
    process.exit(1);
  }
  process.exit(r.status ?? 1);
}

if (process.env.MICRONET_ADDON) usePrebuilt(process.env.MICRONET_ADDON);
else build();
