#!/usr/bin/env node
// The `weblora` command. The CLI is TypeScript, run through tsx's loader registered in this
// same process rather than in a child `node --import tsx`: with one process, Ctrl-C reaches the
// trainer directly (it stops at a step boundary and checkpoints) and stdio and the exit code
// need no forwarding.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 6)) {
  process.stderr.write(`weblora needs Node.js 20.6 or newer (this is ${process.versions.node})\n`);
  process.exit(1);
}
const { register } = await import('tsx/esm/api');
register();
const { runCli } = await import('../src/cli/main.ts');
await runCli(process.argv.slice(2));
