#!/usr/bin/env node
// The kubewire command. The TypeScript sources are compiled to dist/ by `npm install`
// (the prepare script) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('kubewire: not built yet: run `npm install` (or `npm run build`) in the kubewire directory [KW_ERR_NOT_BUILT]\n');
  process.exit(2);
}
const { main } = await import(entry.href);
await main(process.argv);
