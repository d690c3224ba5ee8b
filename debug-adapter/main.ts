/**
 * The debug adapter's entry point: runs a KvmDebugSession speaking DAP on
 * stdin/stdout (VS Code spawns `node out/debug-adapter/main.js`). Nothing
 * else may write to stdout.
 */
import { DebugSession } from '@vscode/debugadapter';
import { KvmDebugSession } from './session';

DebugSession.run(KvmDebugSession);
