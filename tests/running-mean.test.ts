import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { RunningMean } from '../src/divergence/running-mean';
import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

const fx = loadFixture<{ runningMean: { xs: number[]; values: Record<string, number[]> } }>(
  'divergence.json',
).runningMean;

describe('RunningMean', () => {
  it.each([0.9, 0.5])(
    'EMA with first-value initialisation matches the reference (momentum %s)',
    (momentum) => {
      const m = new RunningMean({ momentum });
      expect(m.value).toBeNull();
      const got = fx.xs.map((x) => m.update(x));
      // Both sides compute in float64 with the same operation order.
      expectClose(got, fx.values[String(momentum)] as number[], { rtol: 1e-15, atol: 0 });
      expect(m.count).toBe(fx.xs.length);
    },
  );

  it('defaults to momentum 0.9 and takes the mean of a tensor', () => {
    const m = new RunningMean();
    expect(m.momentum).toBe(0.9);
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.tensor2d([[10, 10]]);
    expect(m.update(a)).toBeCloseTo(2, 6);
    expect(m.update(b)).toBeCloseTo(0.9 * 2 + 0.1 * 10, 6);
    expect(a.isDisposed).toBe(false);
    tf.dispose([a, b]);
  });

  it('round-trips through JSON exactly and continues identically', () => {
    const m = new RunningMean({ momentum: 0.9 });
    for (const x of [0.1, 0.7, -0.3]) m.update(x);
    const restored = RunningMean.fromJSON(JSON.parse(JSON.stringify(m)));
    expect(restored.value).toBe(m.value);
    expect(restored.count).toBe(3);
    for (const x of [1 / 3, 2.5]) expect(restored.update(x)).toBe(m.update(x));
    const fresh = RunningMean.fromJSON(JSON.parse(JSON.stringify(new RunningMean({ momentum: 0.5 }))));
    expect(fresh.value).toBeNull();
    expect(fresh.update(4)).toBe(4);
    m.reset();
    expect(m.value).toBeNull();
    expect(m.update(7)).toBe(7);
  });

  it('leaks nothing; refuses bad input without changing its value', async () => {
    const m = new RunningMean();
    const t = tf.tensor1d([1, 2]);
    await expectNoLeak(() => {
      m.update(t);
    });
    const before = m.value;
    const nan = tf.tensor1d([1, Number.NaN]);
    const empty = tf.tensor1d([]);
    expectGanpoError(() => m.update(nan), 'NON_FINITE', 'x');
    expectGanpoError(() => m.update(Number.POSITIVE_INFINITY), 'NON_FINITE', 'x');
    expectGanpoError(() => m.update(empty), 'SHAPE_MISMATCH', 'x');
    expect(m.value).toBe(before);
    expectGanpoError(() => new RunningMean({ momentum: 1 }), 'OUT_OF_RANGE', 'momentum');
    expectGanpoError(() => new RunningMean({ momentum: -0.1 }), 'OUT_OF_RANGE', 'momentum');
    expectGanpoError(
      () => RunningMean.fromJSON({ momentum: 0.9, value: null, count: 2 }),
      'INVALID_FORMAT',
      'json',
    );
    tf.dispose([t, nan, empty]);
  });
});
