import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { type Cmd, display, quote, shellLine } from '../../src/exec/cmd.js';

/** Run a line the way a remote login shell runs what ssh2's exec sends: `<shell> -c <line>`. */
function runLine(shell: string, line: string): { stdout: Buffer; stderr: string; status: number | null } {
  // stdin is /dev/null: on a socket (node's default pipes) bash would think sshd started it and read ~/.bashrc
  const r = spawnSync(shell, ['-c', line], { env: { PATH: process.env.PATH, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return { stdout: r.stdout, stderr: r.stderr.toString('utf8'), status: r.status };
}

describe('quote', () => {
  const exact: [string, string][] = [
    ['abc', 'abc'],
    ['/data/www/app', '/data/www/app'],
    ['r42-9fceb02d0ae5', 'r42-9fceb02d0ae5'],
    ['user@host:path,x+y=z%', 'user@host:path,x+y=z%'],
    ['--link-dest=/data/www/app/releases/r1-0123456789ab', '--link-dest=/data/www/app/releases/r1-0123456789ab'],
    // quoting cannot stop a program from reading a word as an option, so "-" stays bare
    ['-n', '-n'],
    ['--', '--'],
    ['', "''"],
    ['a b', "'a b'"],
    [' ', "' '"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ["''", "''\\'''\\'''"],
    ['$(id)', "'$(id)'"],
    ['${HOME}', "'${HOME}'"],
    ['$HOME', "'$HOME'"],
    ['`id`', "'`id`'"],
    ['a\nb', "'a\nb'"],
    ['tab\there', "'tab\there'"],
    ['héllo', "'héllo'"],
    ['日本語', "'日本語'"],
    ['"double"', `'"double"'`],
    ['back\\slash', "'back\\slash'"],
    ['a;b', "'a;b'"],
    ['a&b', "'a&b'"],
    ['a|b', "'a|b'"],
    ['a>b', "'a>b'"],
    ['*', "'*'"],
    ['?', "'?'"],
    ['[a]', "'[a]'"],
    ['~', "'~'"],
    ['~root', "'~root'"],
    ['#x', "'#x'"],
    ['!', "'!'"],
    ['{a,b}', "'{a,b}'"],
    ['(x)', "'(x)'"],
  ];
  for (const [word, quoted] of exact) {
    test(`${JSON.stringify(word)} → ${quoted}`, () => {
      assert.equal(quote(word), quoted);
    });
  }

  test('a NUL byte is refused: no shell word can carry it', () => {
    assert.throws(() => quote('a\0b'), /NUL/);
    assert.throws(() => quote('\0'), /NUL/);
    assert.throws(() => shellLine(['printf', '%s', 'x\0y']), /NUL/);
  });
});

describe('shellLine', () => {
  test('joins quoted words with single spaces', () => {
    assert.equal(shellLine(['sh', '-c', 'echo "$1"', 'slipway-x', 'a b', "it's"]), `sh -c 'echo "$1"' slipway-x 'a b' 'it'\\''s'`);
    assert.equal(shellLine(['true']), 'true');
    assert.equal(shellLine(['printf', '%s', '']), "printf %s ''");
  });

  test('display is the same rendering, so a logged line can be pasted', () => {
    const cmd: Cmd = ['rsync', '-rlpt', '--', '/a b/', "/it's/"];
    assert.equal(display(cmd), shellLine(cmd));
  });

  // Every string a NUL-free argv can hold, as hostile as we can make it.
  const hostile: string[] = [
    '',
    ' ',
    '  two  spaces  ',
    "'",
    "''",
    "'\\''",
    '"',
    '\\',
    'trailing\\',
    '$HOME',
    '${IFS}',
    '$(id)',
    '$(echo pwned > /dev/stderr)',
    '`id`',
    '; rm -rf /nonexistent-slipway',
    '&& false',
    '| cat',
    '> out',
    '< in',
    '*',
    '?',
    '[a-z]*',
    '~',
    '~root',
    '#comment',
    '!',
    '!!',
    '{a,b}',
    'a=b',
    '\n',
    'a\nb\n',
    '\r\n',
    '\t',
    '-n',
    '-e',
    '--',
    '%s%d%%',
    '\\n\\t',
    'héllo wörld',
    '日本語',
    '🚀 rocket',
    '\x01\x02\x1b[31mred\x1b[0m\x7f',
    "mixed 'single' \"double\" `back` $(sub) ${var} \\ \n end",
  ];

  for (const shell of ['/bin/sh', '/bin/bash']) {
    test(`round trip through the real ${shell}: printf %s <word> prints exactly the word`, () => {
      for (const s of hostile) {
        const r = runLine(shell, shellLine(['printf', '%s', s]));
        assert.equal(r.status, 0, `${JSON.stringify(s)}: ${r.stderr}`);
        assert.equal(r.stderr, '', JSON.stringify(s));
        assert.deepEqual(r.stdout, Buffer.from(s, 'utf8'), JSON.stringify(s));
      }
    });

    test(`round trip through the real ${shell}: every word stays one argument`, () => {
      // one printf call with all words: each comes back framed, none split or merged
      const r = runLine(shell, shellLine(['printf', '<%s>', ...hostile]));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.toString('utf8'), hostile.map((s) => `<${s}>`).join(''));
    });
  }

  test('a fixed script with quoted arguments receives them verbatim as $1..$n', () => {
    const script = 'for a in "$@"; do printf "[%s]" "$a"; done';
    const args = ['a b', "it's", '$(id)', 'x\ny', ''];
    const r = runLine('/bin/sh', shellLine(['sh', '-c', script, 'slipway-test', ...args]));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString('utf8'), args.map((a) => `[${a}]`).join(''));
  });

  test('the program word runs as a program, never as a variable assignment', () => {
    // A Cmd's first element is a program; a bare `a=b` first word would be read by
    // the shell as an assignment, and the next word would run instead.
    const r = runLine('/bin/sh', shellLine(['PROG=x', 'printf', 'ran-printf']));
    assert.notEqual(r.stdout.toString('utf8'), 'ran-printf', 'the second word ran as the program');
  });
});
