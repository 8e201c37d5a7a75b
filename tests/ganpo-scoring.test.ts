import * as tf from '@tensorflow/tfjs-core';
import { AdamW, GanpoRegularizer, MLPDiscriminator, type Scoring } from 'ganpo';
import { afterAll, describe, expect, it } from 'vitest';

import type { GanpoRegularizerSettings } from '../src/regularizer/ganpo-regularizer';
import { expectClose, expectGanpoError, expectNoLeak } from './support/helpers';
import { randomLatentBatch } from './support/latents';

const B = 3;
const H = 6;

// Chosen and rejected of different lengths, ragged masks: sets of one critic share a mask only
// within a side, so batched scoring groups policy + reference and scores the opposite set alone.
const masked = randomLatentBatch({
  seed: 1,
  batch: B,
  time: 5,
  rejectedTime: 4,
  width: H,
  chosenMask: tf.tensor2d([
    [1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0],
    [1, 1, 1, 1, 0],
  ]),
  rejectedMask: tf.tensor2d([
    [1, 1, 0, 0],
    [1, 1, 1, 1],
    [1, 1, 1, 0],
  ]),
});
// No masks and one length: all three sets of a critic go into one call.
const unmasked = randomLatentBatch({ seed: 5, batch: B, time: 4, width: H });
afterAll(() => tf.dispose([...Object.values(masked), ...Object.values(unmasked)]));

/** Deterministic critics (no dropout, no spectral norm) and plain SGD(1): weight change = −gradient. */
function make(scoring: Scoring, options: GanpoRegularizerSettings = {}): GanpoRegularizer {
  return new GanpoRegularizer({
    latentDim: H,
    critic: {
      hiddenDim: 8,
      numLayers: 1,
      numHeads: 2,
      ffnDim: 16,
      maxSeqLen: 8,
      dropout: 0,
      spectralNorm: false,
    },
    seed: 21,
    optimizer: tf.train.sgd(1),
    scoring,
    ...options,
  });
}

const weights = (r: GanpoRegularizer): number[][] =>
  r.trainableVariables.map((v) => Array.from(v.dataSync()));

describe('discriminator scoring: batched vs per-set', () => {
  const cases: [string, GanpoRegularizerSettings, typeof masked | typeof unmasked][] = [
    ["'recommended' (pair critics), masks", {}, masked],
    ["'official' (quad loss, opposite taped), masks", { preset: 'official' }, masked],
    ["'official', no masks (three sets in one call)", { preset: 'official' }, unmasked],
    ["'recommended', estimator 'batch' (means with gradient)", { estimator: 'batch' }, masked],
  ];
  for (const [name, options, batch] of cases) {
    it(`gives the same losses, means and gradients without dropout and spectral norm: ${name}`, () => {
      const perSet = make('per-set', options);
      const batched = make('batched', options);
      const w0 = weights(perSet);
      expect(weights(batched)).toEqual(w0);
      for (let step = 0; step < 2; step += 1) {
        const a = perSet.discriminatorStep(batch);
        const b = batched.discriminatorStep(batch);
        expect(b.lossChosen).toBeCloseTo(a.lossChosen, 5);
        expect(b.lossRejected).toBeCloseTo(a.lossRejected, 5);
        for (const side of ['chosen', 'rejected'] as const) {
          for (const set of ['reference', 'policy', 'opposite'] as const) {
            expect(batched.means[side][set] as number).toBeCloseTo(perSet.means[side][set] as number, 5);
          }
        }
        // SGD(1): each weight moved by minus its gradient, so equal weights = equal gradients.
        const wa = weights(perSet);
        const wb = weights(batched);
        wa.forEach((w, i) => {
          expectClose(wb[i] as number[], w, { atol: 1e-5 });
        });
        // The step did move the weights (the gradients compared are not all zero).
        expect(wa.some((w, i) => w.some((x, j) => x !== (w0[i] as number[])[j]))).toBe(true);
      }
      perSet.dispose();
      batched.dispose();
    });
  }

  it('spectral norm makes batched scoring advance the power iteration once per critic, not per set', () => {
    const withSn = (scoring: Scoring) =>
      new GanpoRegularizer({
        latentDim: H,
        critic: { hiddenDim: 8, numLayers: 1, numHeads: 2, ffnDim: 16, maxSeqLen: 8, dropout: 0 },
        seed: 21,
        optimizer: new AdamW({ learningRate: 1e-3 }),
        scoring,
      });
    const perSet = withSn('per-set');
    const batched = withSn('batched');
    const a = perSet.discriminatorStep(masked);
    const b = batched.discriminatorStep(masked);
    // Same weights, a different number of power iterations: close but not bit-identical losses.
    expect(b.lossChosen).toBeCloseTo(a.lossChosen, 1);
    expect(JSON.stringify(batched.stateDict())).not.toBe(JSON.stringify(perSet.stateDict()));
    perSet.dispose();
    batched.dispose();
  });

  it('defaults: both presets score per set, an explicit option wins', () => {
    const d = () => [
      new MLPDiscriminator({ latentDim: H, hiddenDims: [4] }),
      new MLPDiscriminator({ latentDim: H, hiddenDims: [4] }),
    ];
    const [c1, r1] = d() as [MLPDiscriminator, MLPDiscriminator];
    const rec = new GanpoRegularizer({ discriminators: { chosen: c1, rejected: r1 } });
    expect(rec.scoring).toBe('per-set');
    const off = new GanpoRegularizer({ discriminators: { chosen: c1, rejected: r1 }, preset: 'official' });
    expect(off.scoring).toBe('per-set');
    const explicit = new GanpoRegularizer({
      discriminators: { chosen: c1, rejected: r1 },
      preset: 'official',
      scoring: 'batched',
    });
    expect(explicit.scoring).toBe('batched');
    expectGanpoError(
      () => new GanpoRegularizer({ discriminators: { chosen: c1, rejected: r1 }, scoring: 'fused' as never }),
      'INVALID_OPTION',
      'scoring',
    );
    for (const r of [rec, off, explicit]) r.optimizer.dispose();
    c1.dispose();
    r1.dispose();
  });

  it('leaks nothing across batched discriminator steps (masked and unmasked)', async () => {
    for (const preset of ['recommended', 'official'] as const) {
      const r = make('batched', { preset, optimizer: undefined });
      await expectNoLeak(() => {
        r.discriminatorStep(masked);
        r.discriminatorStep(unmasked);
        const l = r.adversarialLoss({
          policyChosenLatents: masked.policyChosenLatents,
          policyRejectedLatents: masked.policyRejectedLatents,
          referenceChosenLatents: masked.referenceChosenLatents,
          referenceRejectedLatents: masked.referenceRejectedLatents,
          chosenMask: masked.chosenMask,
          rejectedMask: masked.rejectedMask,
        });
        l.dispose();
      });
      r.dispose();
    }
  });
});
