import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { MLPDiscriminator } from '../src/discriminators/mlp';
import { TransformerDiscriminator } from '../src/discriminators/transformer';
import { AdamW } from '../src/optim/adamw';
import { ganpoLoss } from '../src/regularizer/ganpo-objective';
import { GanpoRegularizer, type GanpoRegularizerOptions } from '../src/regularizer/ganpo-regularizer';
import { expectGanpoError, expectNoLeak } from './support/helpers';

const B = 3;
const T = 5;
const H = 6;

function latents(seed: number, t = T): tf.Tensor3D {
  return tf.randomNormal([B, t, H], 0, 1, 'float32', seed) as tf.Tensor3D;
}

const batch = {
  policyChosen: latents(1),
  policyRejected: latents(2),
  referenceChosen: latents(3),
  referenceRejected: latents(4),
  chosenMask: tf.tensor2d([
    [1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0],
    [1, 1, 1, 1, 0],
  ]),
  rejectedMask: tf.tensor2d([
    [1, 1, 0, 0, 0],
    [1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0],
  ]),
};
afterAll(() => tf.dispose(Object.values(batch)));

function make(options: GanpoRegularizerOptions = {}, seed = 11): GanpoRegularizer {
  return GanpoRegularizer.create({
    inputDim: H,
    discriminator: { hiddenDim: 8, numLayers: 1, numHeads: 2, ffnDim: 16, maxSeqLen: 8, dropout: 0 },
    seed,
    optimizer: new AdamW({ learningRate: 1e-2, weightDecay: 0.01 }),
    // These tests check the official algorithm's mechanics (EMA means, one-sided generator).
    preset: 'official',
    ...options,
  });
}

const snapshot = (r: GanpoRegularizer): string => JSON.stringify(r.getState());

describe('GanpoRegularizer', () => {
  it('create() builds two distinct discriminators of the requested kind', () => {
    const r = make();
    expect(r.discriminators.chosen).toBeInstanceOf(TransformerDiscriminator);
    expect(r.discriminators.chosen).not.toBe(r.discriminators.rejected);
    expect(r.inputDim).toBe(H);
    expect(r.means.chosen.reference).toBeNull();
    r.dispose();
    const m = GanpoRegularizer.create({ inputDim: H, kind: 'mlp', discriminator: { hiddenDims: [8] } });
    expect(m.discriminators.rejected).toBeInstanceOf(MLPDiscriminator);
    m.dispose();
  });

  it('EMA means start at the first batch mean, then move by momentum 0.9', () => {
    const r = make();
    r.discriminatorStep(batch);
    const first = r.means;
    // Re-score the same batch with the discriminators as they were: the EMA's first value is the
    // batch mean, so a second regularizer with estimator 'batch' on the same start must agree.
    const b = make({ estimator: 'batch' });
    b.discriminatorStep(batch);
    for (const side of ['chosen', 'rejected'] as const) {
      for (const set of ['reference', 'policy', 'opposite'] as const) {
        expect(first[side][set]).toBeCloseTo(b.means[side][set] as number, 6);
      }
    }
    r.discriminatorStep(batch);
    const second = r.means.chosen.reference as number;
    // m1 = 0.9 m0 + 0.1 x1, with x1 in a plausible range around m0
    expect(second).not.toBe(first.chosen.reference);
    r.dispose();
    b.dispose();
  });

  it('adversarialLoss is differentiable w.r.t. the latents only and needs a discriminator step first', () => {
    const r = make();
    expectGanpoError(
      () => r.adversarialLoss({ policyChosen: batch.policyChosen, policyRejected: batch.policyRejected }),
      'INVALID_STATE',
    );
    r.discriminatorStep(batch);
    const x = tf.variable(tf.clone(batch.policyChosen), true, 'reg-test-x');
    const dVars = r.trainableVariables;
    const before = dVars.map((v) => Array.from(v.dataSync()));
    const { value, grads } = tf.variableGrads(
      () =>
        r.adversarialLoss({
          policyChosen: x as unknown as tf.Tensor3D,
          policyRejected: batch.policyRejected,
        }),
      [x],
    );
    const g = grads['reg-test-x'] as tf.Tensor;
    expect(Number.isFinite(value.dataSync()[0] as number)).toBe(true);
    expect(tf.sum(tf.abs(g)).dataSync()[0]).toBeGreaterThan(0);
    expect(dVars.map((v) => Array.from(v.dataSync()))).toEqual(before);
    tf.dispose([value, g, x]);
    r.dispose();
  });

  it('ganpoLoss = preference + weight · adversarial', () => {
    const r = make({ weight: 0.5 });
    r.discriminatorStep(batch);
    const pref = tf.scalar(0.7);
    const out = ganpoLoss({
      regularizer: r,
      preference: pref,
      policyChosenLatents: batch.policyChosen,
      policyRejectedLatents: batch.policyRejected,
      chosenMask: batch.chosenMask,
      rejectedMask: batch.rejectedMask,
    });
    const [loss, p, adv] = [out.loss, out.preferenceLoss, out.adversarialLoss].map(
      (t) => t.dataSync()[0] as number,
    );
    expect(p).toBeCloseTo(0.7, 6);
    expect(loss).toBeCloseTo((p as number) + 0.5 * (adv as number), 6);
    tf.dispose([pref, out.loss, out.preferenceLoss, out.adversarialLoss]);
    r.dispose();
  });

  it('save → restore → continue equals an uninterrupted run exactly', () => {
    for (const estimator of ['ema', 'batch'] as const) {
      const a = make({ estimator });
      for (let i = 0; i < 4; i++) a.discriminatorStep(batch);
      const want = snapshot(a);

      const b = make({ estimator });
      b.discriminatorStep(batch);
      b.discriminatorStep(batch);
      const saved = JSON.parse(JSON.stringify(b.getState()));
      b.dispose();
      const c = make({ estimator }, 999); // other init: everything must come from the state
      c.loadState(saved);
      c.discriminatorStep(batch);
      c.discriminatorStep(batch);
      expect(snapshot(c)).toBe(want);
      a.dispose();
      c.dispose();
    }
  });

  it('the deprecated option divergence sets ganLoss; both names with different values throw', () => {
    const r = make({ divergence: 'lsgan' });
    expect(r.ganLoss).toBe('lsgan');
    expect(r.divergence).toBe('lsgan');
    r.dispose();
    const same = make({ ganLoss: 'hinge', divergence: 'hinge' });
    expect(same.ganLoss).toBe('hinge');
    same.dispose();
    const before = tf.memory().numTensors;
    expectGanpoError(() => make({ ganLoss: 'sgan', divergence: 'hinge' }), 'INVALID_OPTION', 'ganLoss');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a state saved under the former option name divergence loads and continues exactly', () => {
    const a = make({ ganLoss: 'lsgan' });
    for (let i = 0; i < 3; i++) a.discriminatorStep(batch);
    const want = snapshot(a);
    const b = make({ ganLoss: 'lsgan' });
    b.discriminatorStep(batch);
    b.discriminatorStep(batch);
    const state = b.getState();
    expect(state.options.ganLoss).toBe('lsgan');
    expect(state.options).not.toHaveProperty('divergence');
    // The layout of states written before the rename: the GAN loss under options.divergence.
    const { ganLoss, ...rest } = JSON.parse(JSON.stringify(state.options));
    const old = { ...JSON.parse(JSON.stringify(state)), options: { ...rest, divergence: ganLoss } };
    b.dispose();
    const c = make({ ganLoss: 'lsgan' }, 999);
    c.loadState(old);
    c.discriminatorStep(batch);
    expect(snapshot(c)).toBe(want);
    const hinge = make({ ganLoss: 'hinge' });
    expectGanpoError(() => hinge.loadState(old), 'STATE_DICT_MISMATCH', 'options.ganLoss');
    for (const r of [a, c, hinge]) r.dispose();
  });

  it('a refused discriminatorStep changes no weight, no mean and no optimizer state', () => {
    const r = make();
    r.discriminatorStep(batch);
    const before = snapshot(r);
    const nan = tf.fill([B, T, H], Number.NaN) as tf.Tensor3D;
    const wrongH = tf.zeros([B, T, H + 1]) as tf.Tensor3D;
    const wrongB = tf.zeros([B + 1, T, H]) as tf.Tensor3D;
    const badMask = tf.ones([B, T + 1]) as tf.Tensor2D;
    const halfMask = tf.fill([B, T], 0.5) as tf.Tensor2D;
    expectGanpoError(
      () => r.discriminatorStep({ ...batch, policyChosen: nan }),
      'NON_FINITE',
      'policyChosen',
    );
    expectGanpoError(
      () => r.discriminatorStep({ ...batch, referenceRejected: wrongH }),
      'SHAPE_MISMATCH',
      'referenceRejected',
    );
    expectGanpoError(
      () => r.discriminatorStep({ ...batch, policyRejected: wrongB }),
      'SHAPE_MISMATCH',
      'policyRejected',
    );
    expectGanpoError(
      () => r.discriminatorStep({ ...batch, chosenMask: badMask }),
      'SHAPE_MISMATCH',
      'chosenMask',
    );
    expectGanpoError(
      () => r.discriminatorStep({ ...batch, rejectedMask: halfMask }),
      'OUT_OF_RANGE',
      'rejectedMask',
    );
    const rank2 = tf.zeros([B, T]) as unknown as tf.Tensor3D;
    expectGanpoError(
      () => r.discriminatorStep({ ...batch, policyChosen: rank2 }),
      'SHAPE_MISMATCH',
      'policyChosen',
    );
    expect(snapshot(r)).toBe(before);
    tf.dispose([nan, wrongH, wrongB, badMask, halfMask, rank2]);
    r.dispose();
  });

  it('rejects bad options and mismatched states', () => {
    const d1 = new MLPDiscriminator({ inputDim: H, hiddenDims: [4] });
    const d2 = new MLPDiscriminator({ inputDim: H + 1, hiddenDims: [4] });
    expectGanpoError(
      () => new GanpoRegularizer({ chosen: d1, rejected: d1 }),
      'INVALID_ARGUMENT',
      'rejected',
    );
    expectGanpoError(() => new GanpoRegularizer({ chosen: d1, rejected: d2 }), 'SHAPE_MISMATCH', 'rejected');
    const d3 = new MLPDiscriminator({ inputDim: H, hiddenDims: [4] });
    expectGanpoError(
      () => new GanpoRegularizer({ chosen: d1, rejected: d3, weight: -1 }),
      'OUT_OF_RANGE',
      'weight',
    );
    expectGanpoError(
      () => new GanpoRegularizer({ chosen: d1, rejected: d3, momentum: 1 }),
      'OUT_OF_RANGE',
      'momentum',
    );
    expectGanpoError(
      () => new GanpoRegularizer({ chosen: d1, rejected: d3, estimator: 'median' as never }),
      'INVALID_OPTION',
      'estimator',
    );
    expectGanpoError(
      () => new GanpoRegularizer({ chosen: d1, rejected: d3, ganLoss: 'wgan' as never }),
      'INVALID_OPTION',
      'ganLoss',
    );
    expectGanpoError(() => GanpoRegularizer.create({ inputDim: 0 }), 'OUT_OF_RANGE', 'inputDim');
    const ema = make();
    const batchMeans = make({ estimator: 'batch' });
    const state = ema.getState();
    const before = snapshot(batchMeans);
    expectGanpoError(() => batchMeans.loadState(state), 'STATE_DICT_MISMATCH', 'options.estimator');
    expectGanpoError(() => batchMeans.loadState({ format: 'nope' } as never), 'INVALID_FORMAT', 'state');
    expect(snapshot(batchMeans)).toBe(before);
    const small = GanpoRegularizer.create({
      inputDim: H,
      discriminator: { hiddenDim: 4, numLayers: 1, numHeads: 2, ffnDim: 8, maxSeqLen: 8 },
    });
    const tooBig = make();
    const smallBefore = snapshot(small);
    expect(() => small.loadState(tooBig.getState())).toThrow();
    expect(snapshot(small)).toBe(smallBefore);
    for (const d of [d1, d2, d3]) d.dispose();
    for (const r of [ema, batchMeans, small, tooBig]) r.dispose();
    expectGanpoError(() => ema.discriminatorStep(batch), 'DISPOSED');
  });

  it('leaks nothing across discriminator steps and adversarial losses', async () => {
    const r = make();
    await expectNoLeak(() => {
      r.discriminatorStep(batch);
      const l = r.adversarialLoss({
        policyChosen: batch.policyChosen,
        policyRejected: batch.policyRejected,
        chosenMask: batch.chosenMask,
        rejectedMask: batch.rejectedMask,
      });
      l.dispose();
    });
    r.dispose();
  });
});
