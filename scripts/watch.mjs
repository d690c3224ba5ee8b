// `npm run watch`: rebuilds every bundle in dist/ on each change; the
// preLaunchTask of "Run Extension" (.vscode/tasks.json). out/ and the test
// kernels are `npm run build`'s.
import { watchBundles } from './bundles.mjs';

await watchBundles();
