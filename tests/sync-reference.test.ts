import * as tf from '@tensorflow/tfjs-core';
import { syncReference } from 'ganpo';
import { describe, expect, it } from 'vitest';

import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

interface SyncCase {
  alpha: number;
  policy: { shape: number[]; data: number[] }[];
  reference: { shape: number[]; data: number[] }[];
  after: number[][][];
}
const fx = loadFixture<{ meta: { trl: string }; sync: SyncCase[] }>('losses-kto-bco.json');

const variables = (list: SyncCase['policy'], prefix: string): tf.Variable[] =>
  list.map((s, i) => {
    const t = tf.tensor(s.data, s.shape, 'float32');
    const v = tf.variable(t, false, `${prefix}/${i}`);
    t.dispose();
    return v;
  });

describe('syncReference matches TRL SyncRefModelCallback._sync_target_model (PyTorch float32)', () => {
  for (const c of fx.sync) {
    it(`α = ${c.alpha}, three successive syncs`, () => {
      const policy = variables(c.policy, `p-${c.alpha}`);
      const reference = variables(c.reference, `r-${c.alpha}`);
      const before = tf.memory().numTensors;
      c.after.forEach((want, step) => {
        syncReference(policy, reference, c.alpha);
        reference.forEach((r, i) => {
          expectClose(r, want[i] as number[], {
            rtol: 1e-6,
            atol: 1e-7,
            label: `step ${step} reference[${i}]`,
          });
        });
      });
      expect(tf.memory().numTensors).toBe(before);
      // The policy is read, never written.
      policy.forEach((p, i) => {
        expectClose(p, Float32Array.from((c.policy[i] as { data: number[] }).data), { rtol: 0, atol: 0 });
      });
      tf.dispose([...policy, ...reference]);
    });
  }

  it('α = 1 copies the policy exactly; α = 0 changes nothing', () => {
    const p = [tf.variable(tf.tensor1d([1.5, -2, 3e-8]))];
    const r = [tf.variable(tf.tensor1d([7, 8, 9]))];
    syncReference(p, r, 0);
    expect(Array.from(r[0]?.dataSync() ?? [])).toEqual([7, 8, 9]);
    syncReference(p, r, 1);
    expect(Array.from(r[0]?.dataSync() ?? [])).toEqual(Array.from(p[0]?.dataSync() ?? []));
    tf.dispose([...p, ...r]);
  });

  it('refuses bad arguments before assigning anything and leaks nothing', async () => {
    const p = [tf.variable(tf.zeros([2, 3])), tf.variable(tf.zeros([4]))];
    const r = [tf.variable(tf.ones([2, 3])), tf.variable(tf.ones([5]))];
    expectGanpoError(() => syncReference(p, r, 1.5), 'OUT_OF_RANGE', 'alpha');
    expectGanpoError(() => syncReference(p, r, Number.NaN), 'NON_FINITE', 'alpha');
    expectGanpoError(() => syncReference(p, r.slice(0, 1), 0.5), 'SHAPE_MISMATCH', 'reference');
    // The mismatch is in the second pair: the first must not have been assigned.
    expectGanpoError(() => syncReference(p, r, 0.5), 'SHAPE_MISMATCH', 'reference[1]');
    expect(Array.from(r[0]?.dataSync() ?? [])).toEqual([1, 1, 1, 1, 1, 1]);
    expectGanpoError(
      () => syncReference(p, [r[0] as tf.Variable, p[1] as tf.Variable], 0.5),
      'INVALID_ARGUMENT',
    );
    const i32 = tf.variable(tf.zeros([4], 'int32'));
    expectGanpoError(
      () => syncReference(p, [r[0] as tf.Variable, i32], 0.5),
      'SHAPE_MISMATCH',
      'reference[1]',
    );
    const ok = tf.variable(tf.ones([4]));
    await expectNoLeak(() => syncReference(p, [r[0] as tf.Variable, ok], 0.6));
    tf.dispose([...p, ...r, i32, ok]);
  });
});
