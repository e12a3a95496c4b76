#!/usr/bin/env node
// The `tollgate` command. Tollgate's TypeScript runs directly on Node.js 24 (type stripping);
// the repository pins Node 24 as a dev dependency, so `npm run tollgate -- …`, `npx tollgate …`
// and the npm scripts use it even where the system Node is older.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 24 && !(major === 22 && minor >= 18)) {
  console.error(
    `tollgate: needs Node.js 24 (this is ${process.version}). Run it through npm, which uses the Node 24 the repository pins: ` +
      '`npm run tollgate -- <command>` or `npx tollgate <command>` (after `npm install`).',
  );
  process.exit(2);
}
// The compile cache (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache) keeps the code with its
// types stripped: a process that finds its modules there never loads the TypeScript stripper,
// about 30 MB of resident memory the agent would carry on every node. The image fills it at build.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../services/cli/src/main.ts');
// Exit explicitly: a client library's idle socket or timer must not keep a finished command alive.
process.exit(await main(process.argv.slice(2), process.env));
