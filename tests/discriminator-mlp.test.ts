import * as tf from '@tensorflow/tfjs-core';
import { MLPDiscriminator } from 'ganpo';
import { describe, expect, it } from 'vitest';

import {
  expectClose,
  expectGanpoError,
  expectNoLeak,
  loadFixture,
  saveToMemory,
  withLatentDim,
} from './support/helpers';

type Nested = number | Nested[];
interface Grads {
  scores: number[];
  inputGrad: Nested;
  paramGrads?: Record<string, Nested>;
}
interface Fixture {
  config: { latentDim: number; hiddenDims: number[] };
  state: Record<string, Nested>;
  x: Nested;
  mask: Nested;
  coef: number[];
  eval: Record<'mask' | 'nomask', Grads>;
  train: Grads & { stateAfter: Record<string, Nested> };
}

const fx = withLatentDim(loadFixture<Fixture>('discriminator_mlp.json'));
const TOL = { rtol: 1e-4, atol: 1e-5 };

function fromFixture(): MLPDiscriminator {
  const d = new MLPDiscriminator({ ...fx.config, seed: 1 });
  const st = Object.fromEntries(Object.entries(fx.state).map(([k, v]) => [k, tf.tensor(v as number[])]));
  d.loadStateDict(st);
  tf.dispose(Object.values(st));
  return d;
}

describe('MLPDiscriminator', () => {
  it.each(['mask', 'nomask'] as const)(
    'matches PyTorch in eval mode (%s): scores and input gradients',
    (name) => {
      const d = fromFixture();
      const x = tf.tensor3d(fx.x as number[][][]);
      const mask = name === 'mask' ? tf.tensor2d(fx.mask as number[][]) : undefined;
      const c = tf.tensor1d(fx.coef);
      const s = d.apply(x, { mask });
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(d.apply(v as tf.Tensor3D, { mask }), c)))(x);
      expectClose(s, fx.eval[name].scores, TOL);
      expectClose(g, fx.eval[name].inputGrad as number[][][], TOL);
      tf.dispose([x, mask, c, s, g]);
      d.dispose();
    },
  );

  it('training mode: u, v updated like PyTorch and weight gradients match', () => {
    const d = fromFixture();
    const x = tf.tensor3d(fx.x as number[][][]);
    const mask = tf.tensor2d(fx.mask as number[][]);
    const c = tf.tensor1d(fx.coef);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(d.apply(x, { mask, training: true }), c)) as tf.Scalar,
      d.trainableVariables,
    );
    const st = d.stateDict();
    for (const [k, v] of Object.entries(fx.train.stateAfter))
      expectClose(st[k] as tf.Tensor, v as number[], { ...TOL, label: k });
    const pg = fx.train.paramGrads as Record<string, Nested>;
    for (let i = 0; i < 3; i++) {
      const kT = tf.transpose(grads[`${d.name}/net_${2 * i}/kernel`] as tf.Tensor);
      expectClose(kT, pg[`net.${2 * i}.weight_orig`] as number[], {
        ...TOL,
        label: `net.${2 * i}.weight_orig`,
      });
      expectClose(
        grads[`${d.name}/net_${2 * i}/bias`] as tf.Tensor,
        pg[`net.${2 * i}.bias`] as number[],
        TOL,
      );
      kT.dispose();
    }
    expectClose(
      value,
      fx.train.scores.reduce((s, v, i) => s + v * (fx.coef[i] as number), 0),
      TOL,
    );
    tf.dispose([x, mask, c, value, ...Object.values(grads), ...Object.values(st)]);
    d.dispose();
  });

  it('has PyTorch state-dict names, rejects bad inputs and state, leaks nothing', async () => {
    const d = fromFixture();
    const st = d.stateDict();
    expect(Object.keys(st).sort()).toEqual(Object.keys(fx.state).sort());
    const { 'net.4.weight_u': _u, ...missing } = st;
    expectGanpoError(() => d.loadStateDict(missing), 'STATE_DICT_MISMATCH', 'net.4.weight_u');
    const x = tf.tensor3d(fx.x as number[][][]);
    const wrong = tf.zeros([3, 4, 5]) as tf.Tensor3D;
    const badMask = tf.ones([3, 5]) as tf.Tensor2D;
    expectGanpoError(() => d.apply(wrong), 'SHAPE_MISMATCH', 'hidden');
    expectGanpoError(() => d.apply(x, { mask: badMask }), 'SHAPE_MISMATCH', 'mask');
    expectGanpoError(
      () => new MLPDiscriminator({ latentDim: 4, hiddenDims: [0] }),
      'OUT_OF_RANGE',
      'hiddenDims[0]',
    );
    expect(d.trainableVariables.length).toBe(6);
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(d.apply(x, { training: true })) as tf.Scalar,
        d.trainableVariables,
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    const saved = await saveToMemory(d);
    const loaded = await MLPDiscriminator.load(tf.io.fromMemory(saved));
    const [a, b] = [d.apply(x), loaded.apply(x)];
    expectClose(b, Array.from(a.dataSync()), { rtol: 0, atol: 0 });
    tf.dispose([x, wrong, badMask, a, b, ...Object.values(st)]);
    d.dispose();
    loaded.dispose();
  });
});
