#!/usr/bin/env node
// The `deploy` command: everything lives in src/cli, loaded here so start-up stays small.
import { main } from '../src/cli/index.js';

// exit at once: a connection still being set up to a host the run no longer needs
// (it stopped early) must not keep the process waiting for its handshake or timeout
process.exit(await main(process.argv));
