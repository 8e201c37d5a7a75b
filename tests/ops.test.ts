import * as tf from '@tensorflow/tfjs-core';
import { logSigmoid, stopGradient } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { expectClose, expectNoLeak } from './support/helpers';

describe('stopGradient', () => {
  it('is the identity forward and blocks the gradient', () => {
    const x = tf.tensor1d([1, -2, 3]);
    // d/dx [x² + stop(x)·x] = 2x + stop(x) = 3x, not 4x.
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.add(tf.square(v), tf.mul(stopGradient(v), v))))(x);
    expectClose(g, [3, -6, 9]);
    const y = stopGradient(x);
    expectClose(y, [1, -2, 3]);
    expect(y).not.toBe(x);
    const gOnly = tf.grad((v: tf.Tensor) => tf.sum(stopGradient(tf.mul(v, 2))))(x);
    expectClose(gOnly, [0, 0, 0]);
    tf.dispose([x, g, y, gOnly]);
  });

  it('leaks nothing', async () => {
    const x = tf.tensor1d([1, 2]);
    await expectNoLeak(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(stopGradient(v), v)))(x);
      g.dispose();
    });
    x.dispose();
  });
});

describe('logSigmoid', () => {
  const reference = (z: number): number => (z < 0 ? z - Math.log1p(Math.exp(z)) : -Math.log1p(Math.exp(-z)));
  const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

  it('is finite with the right value and gradient at ±200 on an intermediate tensor', () => {
    const zs = [-200, -30, -1, 0, 1, 30, 200];
    const x = tf.tensor1d(zs.map((z) => z / 2));
    // The input to logSigmoid is an intermediate (2·x): exactly where tf.logSigmoid's gradient breaks.
    const f = (v: tf.Tensor): tf.Tensor => tf.sum(logSigmoid(tf.mul(v, 2)));
    const value = logSigmoid(tf.mul(x, 2));
    const grad = tf.grad(f)(x);
    expectClose(value, zs.map(reference), { rtol: 1e-5, atol: 1e-6 });
    // d/dx log σ(2x) = 2·σ(−2x)
    expectClose(
      grad,
      zs.map((z) => 2 * sigmoid(-z)),
      { rtol: 1e-5, atol: 1e-7 },
    );
    for (const v of [...value.dataSync(), ...grad.dataSync()]) expect(Number.isFinite(v)).toBe(true);
    tf.dispose([x, value, grad]);
  });

  it('leaks nothing', async () => {
    const x = tf.tensor1d([-200, 0, 200]);
    await expectNoLeak(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(logSigmoid(tf.mul(v, 3))))(x);
      g.dispose();
    });
    x.dispose();
  });
});
