import * as tf from '@tensorflow/tfjs-core';
import { clipGradNorm } from 'ganpo';
import { describe, expect, it } from 'vitest';

import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

interface ClipCase {
  maxNorm: number;
  normType: number | 'inf';
  grads: number[][];
  shapes: number[][];
  totalNorm: number;
  clipped: number[][];
}
const cases = loadFixture<{ clip: ClipCase[] }>('optim.json').clip;

describe('clipGradNorm', () => {
  it.each(cases.map((c) => [`max ${c.maxNorm}, p ${c.normType}`, c] as const))(
    'matches torch.nn.utils.clip_grad_norm_ (%s)',
    (_, c) => {
      const normType = c.normType === 'inf' ? Number.POSITIVE_INFINITY : c.normType;
      const list = c.grads.map((g, i) => tf.tensor(g, c.shapes[i]));
      const arr = clipGradNorm(list, c.maxNorm, { normType });
      expectClose(arr.totalNorm, c.totalNorm, { rtol: 1e-5 });
      arr.grads.forEach((g, i) => {
        expectClose(g, c.clipped[i] as number[], { rtol: 1e-5, atol: 1e-7 });
      });
      // The map form gives the same result under the same keys; inputs are left alone.
      const map = Object.fromEntries(list.map((t, i) => [`v${i}`, t]));
      const byName = clipGradNorm(map, c.maxNorm, { normType });
      expect(Object.keys(byName.grads)).toEqual(Object.keys(map));
      list.forEach((t, i) => {
        expectClose(byName.grads[`v${i}`] as tf.Tensor, c.clipped[i] as number[], { rtol: 1e-5, atol: 1e-7 });
        expectClose(t, (c.grads[i] as number[]).map(Math.fround), { rtol: 0, atol: 0 });
      });
      tf.dispose([...list, ...arr.grads, arr.totalNorm, ...Object.values(byName.grads), byName.totalNorm]);
    },
  );

  it('scales by maxNorm/(norm + 1e-6), so a norm just at maxNorm is scaled by slightly less than 1', () => {
    const g = tf.tensor1d([3, 4]); // norm 5
    const { grads, totalNorm } = clipGradNorm([g], 5);
    expectClose(totalNorm, 5);
    expectClose(grads[0] as tf.Tensor, [3 * (5 / 5.000001), 4 * (5 / 5.000001)], { rtol: 1e-7, atol: 0 });
    tf.dispose([g, ...grads, totalNorm]);
  });

  it('empty input gives norm 0; leaks nothing; refuses bad input', async () => {
    const empty = clipGradNorm({}, 1);
    expectClose(empty.totalNorm, 0);
    expect(empty.grads).toEqual({});
    empty.totalNorm.dispose();
    const g = tf.tensor1d([1, 2, 3]);
    await expectNoLeak(() => {
      const r = clipGradNorm({ a: g }, 1);
      tf.dispose([r.totalNorm, ...Object.values(r.grads)]);
    });
    expectGanpoError(() => clipGradNorm([g], 0), 'OUT_OF_RANGE', 'maxNorm');
    expectGanpoError(() => clipGradNorm([g], 1, { normType: 0.5 }), 'OUT_OF_RANGE', 'normType');
    expectGanpoError(
      () => clipGradNorm({ a: g, b: null as unknown as tf.Tensor }, 1),
      'INVALID_ARGUMENT',
      'grads.b',
    );
    const nan = tf.tensor1d([1, Number.NaN]);
    expectGanpoError(() => clipGradNorm([nan], 1, { errorIfNonfinite: true }), 'NON_FINITE', 'grads');
    const r = clipGradNorm([nan], 1);
    expect(Number.isNaN(r.totalNorm.dataSync()[0])).toBe(true);
    tf.dispose([g, nan, r.totalNorm, ...r.grads]);
  });
});
