/**
 * Shell completion and the man page (issue 18 item 5): both are generated from the command
 * definitions, so every command and option is in them; bash completes for real (the script
 * sourced, COMP_WORDS set, its function called) commands, options, targets from an apps dir
 * and release ids from a store; the zsh script parses and offers the same words (its compadd
 * and _describe stood in for: they only run inside a zsh completion widget); the man page
 * renders without warnings.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildProgram } from '../../src/cli/index.js';
import { completionScript } from '../../src/cli/completion-script.js';
import { programDef } from '../../src/cli/definitions.js';
import { manPage } from '../../src/cli/manpage.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const program = buildProgram();
const def = programDef(program);
const bash = completionScript(program, 'bash');
const zsh = completionScript(program, 'zsh');
const man = manPage(program, '0.1.0', '2026-12-05');

describe('generated from the command definitions', () => {
  const visible = program.commands.filter((c) => !['completion', '__complete'].includes(c.name()));

  it('every command and every option is in both completion scripts and in the man page', () => {
    assert.deepEqual(def.commands.map((c) => c.name), visible.map((c) => c.name()));
    for (const cmd of [program, ...visible]) {
      // a hidden option is the program's own (deploy worker --child), never typed by a person
      for (const o of cmd.options.filter((option) => !option.hidden)) {
        for (const name of [o.short, o.long].filter(Boolean) as string[]) {
          const word = new RegExp(`[' |]${name}[' )":]`);
          assert.match(bash, word, `bash: ${cmd.name()} ${name}`);
          assert.match(zsh, word, `zsh: ${cmd.name()} ${name}`);
          assert.ok(man.includes(name.replaceAll('-', '\\-')), `man: ${cmd.name()} ${name}`);
        }
      }
    }
    for (const cmd of visible) {
      assert.match(bash, new RegExp(`_deploy_commands='[^']*\\b${cmd.name()}\\b`), `bash: ${cmd.name()}`);
      assert.match(zsh, new RegExp(`_deploy_commands='[^']*\\b${cmd.name()}\\b`), `zsh: ${cmd.name()}`);
      assert.ok(zsh.includes(`'${cmd.name()}:${cmd.summary()}'`), `zsh shows what ${cmd.name()} does`);
      assert.ok(man.includes(`\\fB${program.name()} ${cmd.name()}\\fR`), `man: ${cmd.name()}`);
      assert.ok(man.includes(cmd.description().split('\n')[0]!.replaceAll('-', '\\-').replace(/[^\x00-\x7f].*/u, '')), `man: ${cmd.name()} description`);
    }
  });

  it('the hidden commands are left out, and the examples of --help are in the man page', () => {
    assert.doesNotMatch(bash, /_deploy_commands='[^']*(completion|__complete)/);
    assert.doesNotMatch(man, /__complete|\.SS\n\\fBdeploy completion/);
    assert.ok(man.includes('sudo deploy rollback caseconductor\\-prod \\-\\-to r41'));
    assert.ok(man.includes('.B Exit codes\n.RS 2\n.nf\n0 ok, 1 failed'));
  });

  it('a mistyped command is never taken for a hidden one', async () => {
    const p = buildProgram();
    let stderr = '';
    p.configureOutput({ writeErr: (s) => { stderr += s; } });
    await assert.rejects(p.parseAsync(['node', 'deploy', 'complet', 'x-prod']));
    assert.match(stderr, /unknown command 'complet'/);
    assert.doesNotMatch(stderr, /did you mean/);
  });

  it('the bash script passes shellcheck and the zsh script parses', () => {
    const sc = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: bash, encoding: 'utf8' });
    assert.equal(sc.status, 0, sc.stdout + sc.stderr);
    const z = spawnSync('zsh', ['-n'], { input: zsh, encoding: 'utf8' });
    assert.equal(z.status, 0, z.stderr);
  });

  it('the man page renders without a warning', () => {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: man, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const text = execFileSync('groff', ['-man', '-Tutf8'], { input: man, encoding: 'utf8' }).replace(/.\x08/g, '');
    assert.match(text, /deploy rollback <target>/);
    assert.match(text, /--to <release>/);
  });
});

describe('bash completion, for real', { timeout: 60_000 }, () => {
  let base: string;
  let deploy: string;
  let script: string;
  let env: NodeJS.ProcessEnv;

  /** What bash offers for `words`, the cursor on the last one. */
  const complete = (...words: string[]): string[] => {
    const r = spawnSync('bash', ['-c', 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _deploy; printf "%s\\n" "${COMPREPLY[@]}"', '_', script, deploy, ...words], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'slipway-complete-'));
    script = join(base, 'deploy.bash');
    writeFileSync(script, bash);
    // the deploy the script calls for targets and release ids: this checkout's
    deploy = join(base, 'deploy');
    writeFileSync(deploy, `#!/bin/sh\nexec node --import tsx ${JSON.stringify(join(REPO, 'bin', 'deploy.ts'))} "$@"\n`);
    chmodSync(deploy, 0o755);
    const apps = join(base, 'apps');
    const root = join(base, 'root');
    mkdirSync(apps);
    for (const app of ['shop', 'blog', '_generic']) writeFileSync(join(apps, `${app}.ts`), '');
    mkdirSync(join(root, 'prod', 'private', 'shop'), { recursive: true });
    mkdirSync(join(root, 'stage', 'src', 'shop'), { recursive: true });
    // a store with releases r1, r2 (packed) and r10, and a tag that is not a release
    const www = join(root, 'prod', 'www', 'shop');
    mkdirSync(www, { recursive: true });
    const git = (...args: string[]) => execFileSync('git', ['-C', www, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
    git('init', '-q');
    git('commit', '-q', '--allow-empty', '-m', 'r1');
    for (const tag of ['r1', 'r2', 'v1']) git('tag', tag);
    git('pack-refs', '--all');
    git('tag', 'r10');
    env = { PATH: process.env.PATH, HOME: base, SLIPWAY_APPS: apps, SLIPWAY_ROOT: root };
  });

  after(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });

  /**
   * The words the zsh function offers for `words`, the cursor on the last one: compadd prints
   * those that begin with PREFIX (the word typed, less what compset moved into IPREFIX), as zsh
   * keeps them; _describe prints all of them.
   */
  const zshOffers = (...words: string[]): string[] => {
    const file = join(base, '_deploy');
    writeFileSync(file, zsh);
    const stand = [
      'compdef() { :; }',
      'compadd() { local m; for m in "${@[${@[(i)--]}+1,-1]}"; do [[ $m == "$PREFIX"* ]] && print -r -- "$m"; done; return 0; }',
      // compset -P [1] '*=': what PREFIX begins with up to its last = (with 1: its first) moves to IPREFIX
      'compset() { local n=0 m; [[ $1 == -P ]] || return 2; shift; [[ $1 == <-> ]] && { n=$1; shift; }; [[ $1 == "*=" && n -le 1 ]] || return 2; [[ $PREFIX == *=* ]] || return 1; if ((n)); then m=${PREFIX%%=*}=; else m=${PREFIX%=*}=; fi; IPREFIX+=$m; PREFIX=${PREFIX#"$m"}; }',
      '_describe() { local a; local -a arr; for a in "${@[4,-1]}"; do [[ $a == -- ]] && continue; arr=("${(@P)a}"); print -rl -- "${(@)arr%%:*}"; done; }',
      '_files() { print -r -- "(files $*)"; }',
      'source "$1"; shift; words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]} IPREFIX=; _deploy_main',
    ].join('\n');
    const r = spawnSync('zsh', ['-f', '-c', stand, '_', file, deploy, ...words], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };

  it('zsh: commands and targets, options, release ids, directories', () => {
    assert.deepEqual(zshOffers(''), [...def.commands.map((c) => c.name), 'blog-', 'shop-prod', 'shop-stage']);
    const options = zshOffers('log', 'shop-prod', '--l');
    assert.ok(options.includes('--limit') && options.includes('--apps') && !options.includes('--to'), options.join(' '));
    assert.deepEqual(zshOffers('rollback', 'shop-prod', '--to', ''), ['r10', 'r2', 'r1']);
    assert.deepEqual(zshOffers('--root', ''), ['(files -/)']);
  });

  it('zsh: the value of --opt=value, and --apps=DIR read like --apps DIR', () => {
    assert.deepEqual(zshOffers('rollback', 'shop-prod', '--to='), ['r10', 'r2', 'r1']);
    assert.deepEqual(zshOffers('rollback', 'shop-prod', '--to=r1'), ['r10', 'r1']);
    assert.deepEqual(zshOffers('--root='), ['(files -/)']);
    assert.deepEqual(zshOffers(`--apps=${join(base, 'apps')}`, 'diff', 'shop-prod', ''), ['r10', 'r2', 'r1']);
    assert.deepEqual(zshOffers(`--apps=${join(base, 'nosuch')}`, 'plan', ''), []);
  });

  it('a command', () => {
    assert.deepEqual(complete('ro'), ['rollback']);
    assert.deepEqual(complete('re'), ['releases']);
  });

  it("an option, of the command's and the global ones", () => {
    assert.deepEqual(complete('rollback', '--t'), ['--to']);
    assert.deepEqual(complete('log', 'shop-prod', '--l'), ['--limit']);
    assert.deepEqual(complete('shop-prod', '--dry'), ['--dry-run'], 'the default command');
    assert.deepEqual(complete('plan', '--ap'), ['--apps']);
    assert.deepEqual(complete('plan', '--root', join(base, 'ro')), [join(base, 'root')], 'a directory');
  });

  it('a target from the apps dir, with the envs of the admin root', () => {
    assert.deepEqual(complete('status', 'sh'), ['shop-prod', 'shop-stage']);
    assert.deepEqual(complete('status', 'b'), ['blog-'], 'an app with no env yet: the env is typed next');
    assert.deepEqual(complete('shop-s'), ['shop-stage']);
  });

  it('the release ids of a store, for --to and for diff', () => {
    assert.deepEqual(complete('rollback', 'shop-prod', '--to', ''), ['r10', 'r2', 'r1']);
    assert.deepEqual(complete('rollback', 'shop-prod', '--to', 'r1'), ['r10', 'r1']);
    assert.deepEqual(complete('diff', 'shop-prod', 'r10', ''), ['r10', 'r2', 'r1']);
    assert.deepEqual(complete('rollback', 'shop-stage', '--to', ''), [], 'no store: nothing');
  });

  it('the value of --opt=value: split at = by bash (COMP_WORDBREAKS), or one word', () => {
    assert.deepEqual(complete('rollback', 'shop-prod', '--to', '='), ['r10', 'r2', 'r1'], 'the cursor right after =');
    assert.deepEqual(complete('rollback', 'shop-prod', '--to', '=', 'r1'), ['r10', 'r1']);
    assert.deepEqual(complete('rollback', 'shop-prod', '--to=r1'), ['--to=r10', '--to=r1'], '= not in COMP_WORDBREAKS');
    assert.deepEqual(complete('plan', '--root', '=', join(base, 'ro')), [join(base, 'root')]);
    assert.deepEqual(complete('shop-prod', '--dry-run', '='), [], 'a flag takes no value');
  });

  it('--apps=DIR is read like --apps DIR, and the words after it counted right', () => {
    const apps = join(base, 'apps');
    assert.deepEqual(complete('diff', '--apps', '=', apps, 'shop-prod', ''), ['r10', 'r2', 'r1']);
    assert.deepEqual(complete('diff', `--apps=${apps}`, 'shop-prod', ''), ['r10', 'r2', 'r1']);
    assert.deepEqual(complete('rollback', '--apps', '=', apps, 'shop-prod', '--to', '=', ''), ['r10', 'r2', 'r1']);
    assert.deepEqual(complete('--apps', '=', join(base, 'nosuch'), 'plan', ''), []);
    assert.deepEqual(complete(`--apps=${join(base, 'nosuch')}`, 'plan', ''), []);
  });

  it('--apps typed on the line is where the targets come from; an unreadable one offers nothing', () => {
    const other = join(base, 'other-apps');
    mkdirSync(other);
    writeFileSync(join(other, 'wiki.ts'), '');
    assert.deepEqual(complete('--apps', other, 'plan', ''), ['wiki-']);
    assert.deepEqual(complete('--apps', join(base, 'nosuch'), 'plan', ''), []);
  });
});
