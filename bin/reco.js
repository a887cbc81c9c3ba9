#!/usr/bin/env node
// Installed entry point: the compiled CLI (`npm run build` produces dist/).
require('../dist/src/cli.js');
