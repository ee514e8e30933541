#!/usr/bin/env node
// The `deploy` command: everything lives in src/cli, loaded here so start-up stays small.
import { main } from '../src/cli/index.js';

process.exitCode = await main(process.argv);
