#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` runs as prepare).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('speedlayer is not built: dist/cli/main.js is missing.\nFix: run `npm run build` (npm ci runs it) in the project folder.');
  process.exit(1);
}
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv);
