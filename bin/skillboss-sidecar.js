#!/usr/bin/env node
// The CLI runs from the compiled output; `npm ci` builds it (the prepare script).
import { main } from '../dist/proxy/cli/main.js';

await main(process.argv);
