/** The one quoting function, against a real POSIX shell: every hostile word comes back byte for byte. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { quote, shellLine } from '../../src/exec/cmd.js';

const HOSTILE = [
  '', ' ', 'a b', "it's", "''", '"', '"$HOME"', '$HOME', '${IFS}', '$(id)', '`id`', ';id', '&& id', '| id', '> /tmp/x', '< /etc/passwd',
  '../../etc/passwd', '-rf', '--delete', '*', '?', '[a]', '~', '~root', '#comment', '\\', 'a\\nb', 'line1\nline2', '\r', '\t',
  '!', '!!', 'a\'b"c$d`e\\f', '日本語', 'émoji 🚀', '\x1b[31mred', '%s%n', "'; rm -rf / #",
];

describe('quote and shellLine', () => {
  for (const word of HOSTILE) {
    it(`round-trips ${JSON.stringify(word)} through sh`, () => {
      // the remote side runs `sh -c <line>`; printf %s <quoted word> must print the word itself
      const out = execFileSync('sh', ['-c', `printf %s ${quote(word)}`], { encoding: 'utf8' });
      assert.equal(out, word);
    });
  }

  it('a whole command line keeps every argument separate', () => {
    const line = shellLine(['sh', '-c', 'for a; do printf "<%s>" "$a"; done', 'slipway', ...HOSTILE]);
    const out = execFileSync('sh', ['-c', line], { encoding: 'utf8' });
    assert.equal(out, HOSTILE.map((w) => `<${w}>`).join(''));
  });

  it('through `sh -c \'printf %s "$1"\'`', () => {
    for (const word of HOSTILE) {
      const out = execFileSync('sh', ['-c', shellLine(['sh', '-c', 'printf %s "$1"', 'sh', word])], { encoding: 'utf8' });
      assert.equal(out, word, JSON.stringify(word));
    }
  });

  it('leaves safe words bare and refuses NUL', () => {
    assert.equal(quote('r42-9fceb02d0ae5'), 'r42-9fceb02d0ae5');
    assert.equal(quote('/data/www/shop'), '/data/www/shop');
    assert.throws(() => quote('a\0b'), /NUL/);
  });
});
