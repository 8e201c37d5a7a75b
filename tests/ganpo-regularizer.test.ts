import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  type CriticOptions,
  GanpoRegularizer,
  ganpoLoss,
  MLPDiscriminator,
  TransformerDiscriminator,
} from 'ganpo';
import { afterAll, describe, expect, it } from 'vitest';

import type { GanpoRegularizerSettings } from '../src/regularizer/ganpo-regularizer';
import { expectGanpoError, expectNoLeak } from './support/helpers';
import { randomLatentBatch } from './support/latents';

const B = 3;
const T = 5;
const H = 6;

const batch = randomLatentBatch({
  batch: B,
  time: T,
  width: H,
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
});
afterAll(() => tf.dispose(Object.values(batch)));

/** A small transformer-critic regularizer; preset 'official' unless `options` says otherwise. */
function makeOf(options: GanpoRegularizerSettings = {}, seed = 11): GanpoRegularizer {
  return new GanpoRegularizer({
    latentDim: H,
    critic: { hiddenDim: 8, numLayers: 1, numHeads: 2, ffnDim: 16, maxSeqLen: 8, dropout: 0 },
    seed,
    optimizer: new AdamW({ learningRate: 1e-2, weightDecay: 0.01 }),
    preset: 'official',
    ...options,
  });
}

const snapshot = (r: GanpoRegularizer): string => JSON.stringify(r.stateDict());

// The mechanics every preset shares, once per preset: the default ('recommended': plain RaGAN
// critics, paired feature matching, loss floor) next to the official algorithm ('official': quad
// critic loss, one-sided generator).
describe.each(['recommended', 'official'] as const)("GanpoRegularizer, preset '%s'", (preset) => {
  const make = (options: GanpoRegularizerSettings = {}, seed = 11): GanpoRegularizer =>
    makeOf({ preset, ...options }, seed);

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
    expectGanpoError(() => r.adversarialLoss(batch), 'INVALID_STATE');
    r.discriminatorStep(batch);
    const x = tf.variable(tf.clone(batch.policyChosenLatents), true, 'reg-test-x');
    const dVars = r.trainableVariables;
    const before = dVars.map((v) => Array.from(v.dataSync()));
    const { value, grads } = tf.variableGrads(
      () => r.adversarialLoss({ ...batch, policyChosenLatents: x as unknown as tf.Tensor3D }),
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
      ...batch,
    });
    const [loss, p, adv] = [out.loss, out.preferenceLoss, out.regularizerLoss].map(
      (t) => t.dataSync()[0] as number,
    );
    expect(p).toBeCloseTo(0.7, 6);
    expect(loss).toBeCloseTo((p as number) + 0.5 * (adv as number), 6);
    tf.dispose([pref, out.loss, out.preferenceLoss, out.regularizerLoss]);
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
      const saved = JSON.parse(JSON.stringify(b.stateDict()));
      b.dispose();
      const c = make({ estimator }, 999); // other init: everything must come from the state
      c.loadStateDict(saved);
      c.discriminatorStep(batch);
      c.discriminatorStep(batch);
      expect(snapshot(c)).toBe(want);
      a.dispose();
      c.dispose();
    }
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
      () => r.discriminatorStep({ ...batch, policyChosenLatents: nan }),
      'NON_FINITE',
      'policyChosenLatents',
    );
    expectGanpoError(
      () => r.discriminatorStep({ ...batch, referenceRejectedLatents: wrongH }),
      'SHAPE_MISMATCH',
      'referenceRejectedLatents',
    );
    expectGanpoError(
      () => r.discriminatorStep({ ...batch, policyRejectedLatents: wrongB }),
      'SHAPE_MISMATCH',
      'policyRejectedLatents',
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
      () => r.discriminatorStep({ ...batch, policyChosenLatents: rank2 }),
      'SHAPE_MISMATCH',
      'policyChosenLatents',
    );
    expect(snapshot(r)).toBe(before);
    tf.dispose([nan, wrongH, wrongB, badMask, halfMask, rank2]);
    r.dispose();
  });

  it('leaks nothing across discriminator steps and adversarial losses', async () => {
    const r = make();
    await expectNoLeak(() => {
      r.discriminatorStep(batch);
      const l = r.adversarialLoss(batch);
      l.dispose();
    });
    r.dispose();
  });
});

describe('GanpoRegularizer: construction, options and states', () => {
  const make = makeOf;

  it('builds two distinct discriminators of the requested kind', () => {
    const r = make();
    expect(r.discriminators.chosen).toBeInstanceOf(TransformerDiscriminator);
    expect(r.discriminators.chosen).not.toBe(r.discriminators.rejected);
    expect(r.latentDim).toBe(H);
    expect(r.means.chosen.reference).toBeNull();
    r.dispose();
    const m = new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp', hiddenDims: [8] } });
    expect(m.discriminators.rejected).toBeInstanceOf(MLPDiscriminator);
    m.dispose();
  });

  it('refuses a misspelt option, naming the nearest valid one, and builds nothing', () => {
    const before = tf.memory().numTensors;
    const typo = { latentDim: H, wieght: 1 } as never;
    const e = expectGanpoError(() => new GanpoRegularizer(typo), 'INVALID_OPTION', 'wieght');
    expect(e.expected).toContain("did you mean 'weight'?");
    // Options of the other critic kind, and a nested seed that contradicts the regularizer's, are refused too.
    expectGanpoError(
      () => new GanpoRegularizer({ latentDim: H, critic: { kind: 'mlp', hiddenDim: 8 } as never }),
      'INVALID_OPTION',
      'critic.hiddenDim',
    );
    const nested = { latentDim: H, seed: 4, critic: { kind: 'mlp', seed: 3 } } as const;
    expectGanpoError(() => new GanpoRegularizer(nested), 'INVALID_OPTION', 'critic.seed');
    const fractional = { latentDim: H, critic: { kind: 'mlp', seed: 0.5 } } as const;
    expectGanpoError(() => new GanpoRegularizer(fractional), 'OUT_OF_RANGE', 'critic.seed');
    const both = { latentDim: H, discriminators: {} } as never;
    expectGanpoError(() => new GanpoRegularizer(both), 'INVALID_OPTION', 'latentDim');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('one seed story: seed seeds both critics (seed, seed + 1), so two builds agree', () => {
    const critics: CriticOptions[] = [
      { kind: 'mlp', hiddenDims: [8] },
      { kind: 'transformer', hiddenDim: 8, numHeads: 2 },
    ];
    for (const critic of critics) {
      const a = new GanpoRegularizer({ latentDim: H, critic, seed: 3 });
      const b = new GanpoRegularizer({ latentDim: H, critic, seed: 3 });
      const other = new GanpoRegularizer({ latentDim: H, critic, seed: 4 });
      const weights = (r: GanpoRegularizer, side: 'chosen' | 'rejected') =>
        r.discriminators[side].trainableVariables.map((v) => Array.from(v.dataSync()));
      expect(weights(b, 'chosen')).toEqual(weights(a, 'chosen'));
      expect(weights(b, 'rejected')).toEqual(weights(a, 'rejected'));
      expect(weights(a, 'rejected')).not.toEqual(weights(a, 'chosen'));
      // D_l of seed 3 is D_w of seed 4.
      expect(weights(other, 'chosen')).toEqual(weights(a, 'rejected'));
      // A seed inside the critic options is honoured the same way, alone or next to an equal one.
      const nested = new GanpoRegularizer({ latentDim: H, critic: { ...critic, seed: 3 } });
      const agreeing = new GanpoRegularizer({ latentDim: H, critic: { ...critic, seed: 3 }, seed: 3 });
      for (const r of [nested, agreeing]) {
        expect(weights(r, 'chosen')).toEqual(weights(a, 'chosen'));
        expect(weights(r, 'rejected')).toEqual(weights(a, 'rejected'));
      }
      for (const r of [a, b, other, nested, agreeing]) r.dispose();
    }
  });

  it('rejects bad options and mismatched states', () => {
    const d1 = new MLPDiscriminator({ latentDim: H, hiddenDims: [4] });
    const d2 = new MLPDiscriminator({ latentDim: H + 1, hiddenDims: [4] });
    expectGanpoError(
      () => new GanpoRegularizer({ discriminators: { chosen: d1, rejected: d1 } }),
      'INVALID_ARGUMENT',
      'discriminators.rejected',
    );
    expectGanpoError(
      () => new GanpoRegularizer({ discriminators: { chosen: d1, rejected: d2 } }),
      'SHAPE_MISMATCH',
      'discriminators.rejected',
    );
    const d3 = new MLPDiscriminator({ latentDim: H, hiddenDims: [4] });
    expectGanpoError(
      () => new GanpoRegularizer({ discriminators: { chosen: d1, rejected: d3 }, weight: -1 }),
      'OUT_OF_RANGE',
      'weight',
    );
    expectGanpoError(
      () => new GanpoRegularizer({ discriminators: { chosen: d1, rejected: d3 }, momentum: 1 }),
      'OUT_OF_RANGE',
      'momentum',
    );
    expectGanpoError(
      () =>
        new GanpoRegularizer({ discriminators: { chosen: d1, rejected: d3 }, estimator: 'median' as never }),
      'INVALID_OPTION',
      'estimator',
    );
    expectGanpoError(
      () => new GanpoRegularizer({ discriminators: { chosen: d1, rejected: d3 }, ganLoss: 'wgan' as never }),
      'INVALID_OPTION',
      'ganLoss',
    );
    expectGanpoError(() => new GanpoRegularizer({ latentDim: 0 }), 'OUT_OF_RANGE', 'latentDim');
    const ema = make();
    const batchMeans = make({ estimator: 'batch' });
    const state = ema.stateDict();
    const before = snapshot(batchMeans);
    expectGanpoError(() => batchMeans.loadStateDict(state), 'STATE_DICT_MISMATCH', 'options.estimator');
    expectGanpoError(() => batchMeans.loadStateDict({ format: 'nope' } as never), 'INVALID_FORMAT', 'state');
    expect(snapshot(batchMeans)).toBe(before);
    const small = new GanpoRegularizer({
      latentDim: H,
      critic: { hiddenDim: 4, numLayers: 1, numHeads: 2, ffnDim: 8, maxSeqLen: 8 },
    });
    const tooBig = make();
    const smallBefore = snapshot(small);
    expect(() => small.loadStateDict(tooBig.stateDict())).toThrow();
    expect(snapshot(small)).toBe(smallBefore);
    for (const d of [d1, d2, d3]) d.dispose();
    for (const r of [ema, batchMeans, small, tooBig]) r.dispose();
    expectGanpoError(() => ema.discriminatorStep(batch), 'DISPOSED');
  });
});
