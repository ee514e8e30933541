/**
 * The command line itself: mistyped commands, the help texts' style, and a terminal
 * that reports no width.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Command, CommanderError, type Option } from 'commander';
import { permissionProblem } from '../../src/cli/access.js';
import { notesAfterTitle } from '../../src/cli/context.js';
import { buildProgram, clampColumns } from '../../src/cli/index.js';
import { similarCommand } from '../../src/cli/typo.js';
import type { Reporter } from '../../src/report/events.js';
import { UsageError } from '../../src/errors.js';

/** Parse `args` with the real program; what it would print on stderr is collected. */
async function parse(args: string[]): Promise<{ error?: unknown; stderr: string }> {
  const program = buildProgram();
  let stderr = '';
  const capture = (cmd: Command) => {
    cmd.configureOutput({ writeErr: (s) => void (stderr += s), writeOut: () => {} });
    cmd.commands.forEach(capture);
  };
  capture(program);
  try {
    await program.parseAsync(['node', 'deploy', ...args]);
    return { stderr };
  } catch (error) {
    return { error, stderr };
  }
}

describe('a mistyped command', () => {
  let apps: string;
  before(async () => {
    apps = await mkdtemp(join(tmpdir(), 'slipway-cli-'));
  });
  after(async () => {
    await rm(apps, { recursive: true, force: true });
  });

  it('names the command meant, exit 2, instead of "too many arguments for \'ship\'"', async () => {
    for (const [typed, meant] of [['statu', 'status'], ['relases', 'releases'], ['rollbak', 'rollback'], ['lgo', 'log'], ['unlcok', 'unlock'], ['stat', 'status']]) {
      const { error, stderr } = await parse([typed!, 'x-prod']);
      assert.ok(error instanceof CommanderError, typed);
      assert.equal(error.exitCode, 2);
      assert.match(stderr, new RegExp(`unknown command '${typed}'; did you mean '${meant}'\\?`));
      assert.doesNotMatch(stderr, /too many arguments/);
    }
  });

  it('alone, too: `deploy statu` suggests status', async () => {
    const { error, stderr } = await parse(['statu']);
    assert.equal((error as CommanderError).exitCode, 2);
    assert.match(stderr, /did you mean 'status'/);
  });

  it('a word like no command, followed by more, is an unknown command; extra words after a target are named', async () => {
    const unknown = await parse(['frobnicate', 'x-prod']);
    assert.equal((unknown.error as CommanderError).exitCode, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'\n/);
    const extra = await parse(['shop-prod', 'now']);
    assert.equal((extra.error as CommanderError).exitCode, 2);
    assert.match(extra.stderr, /too many arguments after shop-prod: 'now'/);
  });

  it('`deploy <app>-<env>` still deploys (here: reaches loading the app, which does not exist)', async () => {
    const { error } = await parse(['--apps', apps, '--root', join(apps, 'admin'), 'status-prod']);
    assert.ok(error instanceof UsageError);
    assert.match(error.message, /unknown app "status"/);
  });

  it('similarCommand: typos and unique prefixes only', () => {
    const names = ['ship', 'plan', 'releases', 'status', 'rollback', 'sync', 'log', 'diff', 'unlock'];
    assert.equal(similarCommand('sattus', names), 'status');
    assert.equal(similarCommand('DIFF', names), 'diff');
    assert.equal(similarCommand('rel', names), 'releases');
    assert.equal(similarCommand('shop', names), 'ship');
    assert.equal(similarCommand('x', names), undefined);
    assert.equal(similarCommand('caseconductor', names), undefined);
    assert.equal(similarCommand('s', names), undefined);
    assert.equal(similarCommand('shop prod', names), undefined);
  });
});

describe('help texts', () => {
  const program = buildProgram();
  const commands = program.commands;
  const options = (cmd: Command): readonly Option[] => cmd.options;

  it('every option is described as a lower-case phrase without a final period', () => {
    for (const cmd of [program, ...commands]) {
      for (const o of options(cmd)) {
        assert.match(o.description, /^([a-z(]|JSON )/, `${cmd.name()} ${o.flags}: ${o.description}`);
        assert.doesNotMatch(o.description, /\.$/, `${cmd.name()} ${o.flags}`);
      }
    }
  });

  it('every command has a lower-case summary for the list, and a description in sentences', () => {
    for (const cmd of commands) {
      assert.match(cmd.summary(), /^[a-z][^]*[^.]$/, `${cmd.name()} summary: ${cmd.summary()}`);
      assert.match(cmd.description(), /^[A-Z][^]*\.$/, `${cmd.name()} description`);
      // a line break only between sentences, so wrapping never leaves half a sentence on a line
      for (const line of cmd.description().split('\n')) assert.match(line, /\.$/, `${cmd.name()}: ${JSON.stringify(line)}`);
    }
  });

  it('sync --help wraps its description as one paragraph', () => {
    const sync = commands.find((c) => c.name() === 'sync')!.configureHelp({ helpWidth: 80 });
    const help = sync.helpInformation();
    assert.match(help, /live release without making a new one:\nhosts on another release or on none get it, hosts whose files were changed by\nhand get a fresh copy\./);
  });

  it('--yes is gone: nothing asks', async () => {
    assert.equal(program.options.some((o) => o.long === '--yes'), false);
    const { error, stderr } = await parse(['--yes', 'x-prod']);
    assert.equal((error as CommanderError).code, 'commander.unknownOption');
    assert.match(stderr, /unknown option '--yes'/);
  });
});

describe('a terminal that reports no width', () => {
  it('is taken to be 80 columns, also after a resize; a real width is kept', () => {
    const listeners: (() => void)[] = [];
    const tty = { isTTY: true, columns: 0, on: (_: 'resize', l: () => void) => void listeners.push(l) };
    clampColumns(tty);
    assert.equal(tty.columns, 80);
    tty.columns = 132;
    listeners.forEach((l) => l());
    assert.equal(tty.columns, 132);
    tty.columns = 3;
    listeners.forEach((l) => l());
    assert.equal(tty.columns, 80);
    const pipe: { isTTY?: boolean; columns?: number } = {};
    clampColumns(pipe);
    assert.equal(pipe.columns, undefined);
  });
});

describe('a permission error by someone who is not root', () => {
  it('becomes one sentence naming the path and sudo, from a Node error, its message, or git', () => {
    const eacces = Object.assign(new Error("EACCES: permission denied, open '/root/.lock.26990'"), { code: 'EACCES', syscall: 'open', path: '/root/.lock.26990' });
    assert.match(permissionProblem(eacces, 1000)!, /^cannot read \/root\/\.lock\.26990: only root can; run it with sudo \(sudo deploy( .*)?\)$/);
    const mkdir = Object.assign(new Error('x'), { code: 'EACCES', syscall: 'mkdir', path: '/root/x' });
    assert.match(permissionProblem(mkdir, 1000)!, /^cannot write to \/root\/x: only root can/);
    const wrapped = new Error('releasing failed', { cause: new Error("EACCES: permission denied, open '/root/y'") });
    assert.match(permissionProblem(wrapped, 1000)!, /^cannot read \/root\/y: only root can/);
    const git = new Error("git -c a=b -c c=d log: fatal: detected dubious ownership in repository at '/root'\nTo add an exception…");
    assert.match(permissionProblem(git, 1000)!, /^cannot use the git repository \/root: it belongs to root; run it with sudo/);
    assert.equal(permissionProblem(new Error('boom'), 1000), undefined);
    assert.equal(permissionProblem(eacces, 0), undefined, 'root with EACCES has another problem');
  });
});

describe('the live view gets its title first', () => {
  it('notes from before the title (waiting for the lock) come right after it, in order', async () => {
    const seen: string[] = [];
    const inner: Reporter = {
      begin: (title) => void seen.push(`begin ${title}`),
      emit: (e) => void seen.push(e.kind === 'note' ? `note ${e.text}` : e.kind),
      close: async () => void seen.push('close'),
    };
    const r = notesAfterTitle(inner);
    r.emit({ kind: 'note', level: 'warn', text: 'shop-prod is locked; waiting up to 60s' });
    r.emit({ kind: 'note', level: 'warn', text: 'took over a stale lock' });
    r.begin('deploying shop-prod on 2 hosts', ['web1', 'web2']);
    r.emit({ kind: 'note', level: 'info', text: 'done' });
    await r.close();
    assert.deepEqual(seen, ['begin deploying shop-prod on 2 hosts', 'note shop-prod is locked; waiting up to 60s', 'note took over a stale lock', 'note done', 'close']);
  });
});
