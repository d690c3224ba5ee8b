#!/usr/bin/env node
// The `kvmdbg` command; the code lives in out/ (npm run build).
try {
  require('../out/vmm/cli/kvmdbg.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && /out[\\/]vmm[\\/]cli/.test(e.message)) {
    console.error('kvmdbg: not built yet: run npm install (or npm run build) in ' + require('path').join(__dirname, '..'));
    process.exit(1);
  }
  throw e;
}
