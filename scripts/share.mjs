// The files `make install` puts outside PREFIX, generated from the command definitions that
// tsc just built into dist/src (never written by hand): the bash and zsh completion scripts
// and the man page deploy(1), in dist/share as they are laid out under /usr/share.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildProgram } from '../dist/src/cli/index.js';
import { completionScript } from '../dist/src/cli/completion-script.js';
import { manPage } from '../dist/src/cli/manpage.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
// SOURCE_DATE_EPOCH (reproducible builds) or today
const date = new Date(process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) * 1000 : Date.now()).toISOString().slice(0, 10);
const files = {
  'dist/share/bash-completion/completions/deploy': completionScript(buildProgram(), 'bash'),
  'dist/share/zsh/site-functions/_deploy': completionScript(buildProgram(), 'zsh'),
  'dist/share/man/man1/deploy.1': manPage(buildProgram(), version, date),
};
for (const [path, text] of Object.entries(files)) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o644 });
}
