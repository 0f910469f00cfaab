// The python whose torch is micronet's engine (the addon links its libtorch) and the oracle of the
// tests and benchmarks: MICRONET_TORCH_PYTHON, else the project's own environment (.venv, made by
// scripts/setup.sh), else python3. The build and every run use this one rule, so both sides of a
// comparison are the same torch.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function torchPython() {
  if (process.env.MICRONET_TORCH_PYTHON) return process.env.MICRONET_TORCH_PYTHON;
  const venv = path.join(__dirname, '..', '.venv', 'bin', 'python3');
  return fs.existsSync(venv) ? venv : 'python3';
}

module.exports = { torchPython };
