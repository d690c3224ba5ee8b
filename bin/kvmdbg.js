#!/usr/bin/env node
// The `kvmdbg` command; the code is bundled into dist/ by npm run build.
try {
  require('../dist/kvmdbg.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && /dist[\\/]kvmdbg/.test(e.message)) {
    console.error('kvmdbg: not built yet: run npm install (or npm run build) in ' + require('path').join(__dirname, '..'));
    process.exit(1);
  }
  throw e;
}
