// Starts code-server in ONE process: node <this> <code-server args...>.
// code-server's own entry forks a child and gives it 10 s to answer a
// handshake ("error timed out"); under the emulated KVM sandbox on a busy
// host the child takes longer. Its server (runCodeServer) needs no parent.
const path = require('path');
const node = path.join(process.env.TOOLS, 'node_modules', 'code-server', 'out', 'node');
const { parse, readConfigFile, setDefaults } = require(path.join(node, 'cli'));
const { runCodeServer } = require(path.join(node, 'main'));
(async () => {
  const cli = parse(process.argv.slice(2));
  const args = await setDefaults(cli, await readConfigFile(cli.config));
  await runCodeServer(args);
})().catch((e) => { console.error('start-code-server:', e); process.exit(1); });
