/** The one decision about colour, and how listr2 is made to follow it. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { importWithColour, useColour } from '../../src/report/colour.js';

describe('useColour', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  const cases: [string, Parameters<typeof useColour>[0], boolean][] = [
    ['a terminal', { env: {}, stream: tty }, true],
    ['a pipe', { env: {}, stream: pipe }, false],
    ['a dumb terminal', { env: { TERM: 'dumb' }, stream: tty }, false],
    ['--no-color on a terminal', { noColor: true, env: {}, stream: tty }, false],
    ['--no-color beats FORCE_COLOR', { noColor: true, env: { FORCE_COLOR: '1' }, stream: tty }, false],
    ['NO_COLOR=1', { env: { NO_COLOR: '1' }, stream: tty }, false],
    ['NO_COLOR beats FORCE_COLOR', { env: { NO_COLOR: 'yes', FORCE_COLOR: '1' }, stream: tty }, false],
    ['an empty NO_COLOR is unset', { env: { NO_COLOR: '' }, stream: tty }, true],
    ['FORCE_COLOR=1 into a pipe', { env: { FORCE_COLOR: '1' }, stream: pipe }, true],
    ['an empty FORCE_COLOR forces too', { env: { FORCE_COLOR: '' }, stream: pipe }, true],
    ['FORCE_COLOR=0 on a terminal', { env: { FORCE_COLOR: '0' }, stream: tty }, false],
    ['FORCE_COLOR=false on a terminal', { env: { FORCE_COLOR: 'false' }, stream: tty }, false],
  ];
  for (const [name, options, expected] of cases) it(`${name}: ${expected ? 'colour' : 'none'}`, () => assert.equal(useColour(options), expected));
});

describe('importWithColour', () => {
  it('loads with NO_COLOR and FORCE_COLOR matching the decision, then puts the environment back', async () => {
    const env: NodeJS.ProcessEnv = { NO_COLOR: '', FORCE_COLOR: '0', OTHER: 'x' };
    const seenOn = await importWithColour(true, async () => ({ ...env }), env);
    assert.deepEqual(seenOn, { FORCE_COLOR: '1', OTHER: 'x' });
    const seenOff = await importWithColour(false, async () => ({ ...env }), env);
    assert.deepEqual(seenOff, { NO_COLOR: '1', OTHER: 'x' });
    assert.deepEqual(env, { NO_COLOR: '', FORCE_COLOR: '0', OTHER: 'x' });
    const bare: NodeJS.ProcessEnv = {};
    await assert.rejects(importWithColour(false, async () => { throw new Error('load failed'); }, bare), /load failed/);
    assert.deepEqual(bare, {}, 'put back after a failed load too');
  });
});

describe('importWithColour with the real listr2', () => {
  // colorette decides once per process, when listr2 is loaded: one child process per case
  const loaded = async (colour: boolean, env: Record<string, string>) => {
    const code = `import { importWithColour } from './src/report/colour.ts';
const { color } = await importWithColour(${colour}, () => import('listr2'));
process.stdout.write(JSON.stringify({ red: color.red('x'), env: [process.env.NO_COLOR ?? null, process.env.FORCE_COLOR ?? null] }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', code], { env: { PATH: process.env.PATH, ...env } });
    return JSON.parse(stdout) as { red: string; env: [string | null, string | null] };
  };

  it('colours when told to even with FORCE_COLOR=0 and no terminal, and not when told not to even with FORCE_COLOR=1', async () => {
    assert.deepEqual(await loaded(true, { FORCE_COLOR: '0', NO_COLOR: '' }), { red: '\u001b[31mx\u001b[39m', env: ['', '0'] });
    assert.deepEqual(await loaded(false, { FORCE_COLOR: '1' }), { red: 'x', env: [null, '1'] });
  });
});
