/** Tables sized to their content (long host names align). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alignColumns } from '../../src/report/table.js';

describe('alignColumns', () => {
  it('pads each column to its widest cell, leaves the last cell of a row unpadded', () => {
    assert.deepEqual(alignColumns([['web1', 'r2', 'ok'], ['web2.a-long-name.example', 'r10', 'DRIFT'], ['web3', 'UNREACHABLE  cannot connect']]), [
      'web1                      r2   ok',
      'web2.a-long-name.example  r10  DRIFT',
      'web3                      UNREACHABLE  cannot connect',
    ]);
  });

  it('a row that ends early does not widen the column of its last cell; the gap is a parameter', () => {
    assert.deepEqual(alignColumns([['a', 'a-very-long-last-cell'], ['bb', 'c', 'd']], ' '), ['a  a-very-long-last-cell', 'bb c d']);
    assert.deepEqual(alignColumns([]), []);
  });
});
