#!/usr/bin/env node
// The CLI runs from the build: the esbuild bundle (dist/bundle, faster to start), or the plain compiled tree when only
// `tsc` has run. `npm ci` builds both (the prepare script).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/cli.js', import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : '../dist/proxy/cli/main.js');

await main(process.argv);
