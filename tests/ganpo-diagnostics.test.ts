import * as tf from '@tensorflow/tfjs-core';
import { GanpoRegularizer, ganpoLoss, MLPDiscriminator, TransformerDiscriminator } from 'ganpo';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { criticAccuracy, DiagnosticsMonitor, driftSums, MONITOR } from '../src/regularizer/diagnostics';

import { expectClose, expectGanpoError, expectNoLeak } from './support/helpers';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('diagnostic functions (hand-computed cases)', () => {
  it('criticAccuracy: share of rows with reference > policy; ties count ½', () => {
    const ref = tf.tensor1d([1, 2, 3, 0]);
    const pol = tf.tensor1d([0, 2, 4, -1]);
    // rows: 1>0 yes, 2=2 tie (½), 3>4 no, 0>−1 yes → 2.5/4
    const a = criticAccuracy(ref, pol);
    expectClose(a, 0.625);
    // A constant critic reads chance, not 0.
    const same = criticAccuracy(ref, ref);
    expectClose(same, 0.5);
    tf.dispose([ref, pol, a, same]);
  });

  it('driftSums: Σ‖h_θ − h_ref‖² and Σ‖h_ref‖² over masked positions', () => {
    // B 1, T 2, H 2: position 0 ref (3,4) pol (3,5); position 1 ref (1,0) pol (0,0), masked out.
    const ref = tf.tensor3d([
      [
        [3, 4],
        [1, 0],
      ],
    ]);
    const pol = tf.tensor3d([
      [
        [3, 5],
        [0, 0],
      ],
    ]);
    const mask = tf.tensor2d([[1, 0]]);
    const masked = driftSums(pol, ref, mask);
    expectClose(masked, [1, 25]);
    const all = driftSums(pol, ref);
    expectClose(all, [2, 26]);
    tf.dispose([ref, pol, mask, masked, all]);
  });
});

/** A regularizer whose critics have no spectral norm, so training-mode scores equal eval-mode ones. */
function plainRegularizer(
  preset?: 'official',
  extra: { targetDecay?: number; generator?: 'paired-feature-matching' } = {},
): GanpoRegularizer {
  return new GanpoRegularizer({
    discriminators: {
      chosen: new MLPDiscriminator({ latentDim: 2, hiddenDims: [4], spectralNorm: false, seed: 1 }),
      rejected: new MLPDiscriminator({ latentDim: 2, hiddenDims: [4], spectralNorm: false, seed: 2 }),
    },
    ...(preset ? { preset } : {}),
    ...extra,
  });
}

function handComputedBatch() {
  const referenceChosenLatents = tf.tensor3d([
    [
      [1, 0],
      [0, 1],
    ],
    [
      [2, 0],
      [0, 0],
    ],
    [
      [0, 1],
      [1, 1],
    ],
  ]);
  const referenceRejectedLatents = tf.tensor3d([
    [
      [0, 2],
      [1, 0],
    ],
    [
      [1, 1],
      [1, 1],
    ],
    [
      [0, 0],
      [2, 2],
    ],
  ]);
  const shift = tf.tensor1d([0.5, -0.5]);
  return {
    referenceChosenLatents,
    referenceRejectedLatents,
    policyChosenLatents: tf.add(referenceChosenLatents, shift) as tf.Tensor3D,
    policyRejectedLatents: tf.add(referenceRejectedLatents, tf.mul(shift, 2)) as tf.Tensor3D,
    shift,
  };
}

describe('GanpoRegularizer.diagnostics', () => {
  it('null before the first step; then accuracy, divergence and drift of that step', () => {
    const reg = plainRegularizer();
    const b = handComputedBatch();
    expect(reg.diagnostics).toBeNull();
    // Expected accuracy from the critics as they are before the step (no SN, no dropout: training
    // mode scores = these).
    const acc = (['chosen', 'rejected'] as const).map((side) => {
      const d = reg.discriminators[side];
      const [r, p] =
        side === 'chosen'
          ? [b.referenceChosenLatents, b.policyChosenLatents]
          : [b.referenceRejectedLatents, b.policyRejectedLatents];
      const sr = Array.from(d.apply(r).dataSync());
      const sp = Array.from(d.apply(p).dataSync());
      return sr.reduce((n, x, i) => n + (x > (sp[i] as number) ? 1 : x === sp[i] ? 0.5 : 0), 0) / sr.length;
    });
    const result = reg.discriminatorStep(b);
    const diag = reg.diagnostics;
    expect(diag).not.toBeNull();
    expect(diag?.criticAccuracy.chosen).toBeCloseTo(acc[0] as number, 6);
    expect(diag?.criticAccuracy.rejected).toBeCloseTo(acc[1] as number, 6);
    expect(diag?.divergence).toBeCloseTo(2 * Math.LN2 - result.lossChosen - result.lossRejected, 6);
    // Drift by hand: every chosen position moves by (0.5, −0.5) → 0.5 per position, 6 positions;
    // rejected by (1, −1) → 2 per position. Σ‖h_ref‖²: chosen 1+1+4+0+1+2 = 9, rejected 4+1+2+2+0+8 = 17.
    expect(diag?.drift).toBeCloseTo((6 * 0.5 + 6 * 2) / (9 + 17), 6);
    // A copy: mutating it changes nothing inside.
    (diag as { drift: number }).drift = 99;
    expect(reg.diagnostics?.drift).toBeCloseTo(15 / 26, 6);
    tf.dispose(Object.values(b));
    reg.dispose();
  });

  it('the same diagnostics with the official preset; drift 0 when the policy equals the reference', () => {
    const reg = plainRegularizer('official');
    const b = handComputedBatch();
    reg.discriminatorStep({
      ...b,
      policyChosenLatents: b.referenceChosenLatents,
      policyRejectedLatents: b.referenceRejectedLatents,
    });
    expect(reg.diagnostics?.drift).toBe(0);
    // Equal scores: every pair is a tie, which counts ½ (chance), not as wrong.
    expect(reg.diagnostics?.criticAccuracy).toEqual({ chosen: 0.5, rejected: 0.5 });
    tf.dispose(Object.values(b));
    reg.dispose();
  });

  it('a discriminator step with diagnostics leaks nothing', async () => {
    const reg = plainRegularizer();
    const b = handComputedBatch();
    await expectNoLeak(() => {
      reg.discriminatorStep(b);
    });
    tf.dispose(Object.values(b));
    reg.dispose();
  });
});

describe('recommended preset: paired generator', () => {
  it('defaults: pair critics, relative feature matching on target critics (0.99), AdamW(5e-3 MLP / 2e-3 transformer, β 0/0.9), loss floor 0.5; official keeps the old ones', () => {
    const reg = new GanpoRegularizer({ latentDim: 2, critic: { kind: 'mlp', hiddenDims: [4] } });
    expect(reg.preset).toBe('recommended');
    expect(reg.negatives).toBe(false);
    expect(reg.generator).toBe('relative-feature-matching');
    expect(reg.targetDecay).toBe(0.99);
    expect(reg.lossFloor).toBe(0.5);
    const opt = reg.optimizer as unknown as { learningRate: number; beta1: number; beta2: number };
    expect([opt.learningRate, opt.beta1, opt.beta2]).toEqual([5e-3, 0, 0.9]);
    reg.dispose();
    const tr = new GanpoRegularizer({
      latentDim: 2,
      critic: { hiddenDim: 4, numLayers: 1, numHeads: 1, maxSeqLen: 4 },
    });
    const t = tr.optimizer as unknown as { learningRate: number; beta1: number; beta2: number };
    expect([t.learningRate, t.beta1, t.beta2]).toEqual([2e-3, 0, 0.9]);
    tr.dispose();
    // The floor is given for 'sgan' (chance log 2) and scales with the GAN loss's chance level (1).
    const ls = new GanpoRegularizer({ latentDim: 2, critic: { kind: 'mlp' }, ganLoss: 'lsgan' });
    expect(ls.lossFloor).toBeCloseTo(0.5 / Math.LN2, 12);
    ls.dispose();
    const off = new GanpoRegularizer({ latentDim: 2, critic: { kind: 'mlp' }, preset: 'official' });
    const o = off.optimizer as unknown as { learningRate: number; beta1: number; beta2: number };
    expect([
      off.negatives,
      off.generator,
      off.targetDecay,
      off.lossFloor,
      o.learningRate,
      o.beta1,
      o.beta2,
    ]).toEqual([true, 'one-sided', 0, 0, 1e-4, 0.9, 0.999]);
    off.dispose();
    // Explicit options win over the preset.
    const mixed = new GanpoRegularizer({
      latentDim: 2,
      critic: { kind: 'mlp' },
      preset: 'official',
      negatives: false,
    });
    expect(mixed.negatives).toBe(false);
    mixed.dispose();
  });

  it('lossFloor: a critic whose batch loss is below the floor keeps its weights; above it, it steps', () => {
    const run = (lossFloor: number) => {
      const reg = new GanpoRegularizer({
        discriminators: {
          chosen: new MLPDiscriminator({ latentDim: 2, hiddenDims: [4], spectralNorm: false, seed: 1 }),
          rejected: new MLPDiscriminator({ latentDim: 2, hiddenDims: [4], spectralNorm: false, seed: 2 }),
        },
        lossFloor,
      });
      const before = reg.trainableVariables.map((v) => Array.from(v.dataSync()));
      const b = handComputedBatch();
      const out = reg.discriminatorStep(b);
      const moved = reg.trainableVariables.map((v, i) =>
        Array.from(v.dataSync()).some((x, j) => x !== (before[i] as number[])[j]),
      );
      const n = reg.discriminators.chosen.trainableVariables.length;
      const means = reg.means;
      tf.dispose(Object.values(b));
      reg.dispose();
      return { out, chosenMoved: moved.slice(0, n), rejectedMoved: moved.slice(n), means };
    };
    const free = run(0);
    expect(free.chosenMoved.every(Boolean) && free.rejectedMoved.every(Boolean)).toBe(true);
    // Between the two losses: only the side below the floor is frozen.
    const [low, high] = [free.out.lossChosen, free.out.lossRejected].sort((a, b) => a - b) as [
      number,
      number,
    ];
    expect(high).toBeGreaterThan(low);
    const mid = run((low + high) / 2);
    const chosenBelow = free.out.lossChosen < free.out.lossRejected;
    expect(mid.chosenMoved.some(Boolean)).toBe(!chosenBelow);
    expect(mid.rejectedMoved.some(Boolean)).toBe(chosenBelow);
    // Above both: nothing moves, but the means still take the batch.
    const frozen = run(high + 1);
    expect([...frozen.chosenMoved, ...frozen.rejectedMoved].some(Boolean)).toBe(false);
    expect(frozen.means).toEqual(free.means);
    expectGanpoError(
      () => new GanpoRegularizer({ latentDim: 2, critic: { kind: 'mlp' }, lossFloor: -1 }),
      'OUT_OF_RANGE',
      'lossFloor',
    );
  });

  it('the adversarial loss is 0 with zero gradient at policy = reference, and matches the formula', () => {
    // The live critics (targetDecay 0): the formula below reads them.
    const reg = plainRegularizer(undefined, { targetDecay: 0 });
    const b = handComputedBatch();
    reg.discriminatorStep(b);
    const x = tf.variable(tf.clone(b.referenceChosenLatents), true, 'diag-x');
    const { value, grads } = tf.variableGrads(
      () =>
        reg.adversarialLoss({
          policyChosenLatents: x as unknown as tf.Tensor3D,
          policyRejectedLatents: b.referenceRejectedLatents,
          referenceChosenLatents: b.referenceChosenLatents,
          referenceRejectedLatents: b.referenceRejectedLatents,
        }),
      [x],
    );
    expectClose(value, 0);
    expectClose(grads['diag-x'] as tf.Tensor, new Array(12).fill(0));
    // Away from the reference: ½ Σ_side Σ_i ‖f(policy_i) − f(reference_i)‖² / Σ_i ‖f(reference_i)‖².
    const loss = reg.adversarialLoss(b);
    const want = tf.tidy(() => {
      const side = (d: GanpoRegularizer['discriminators']['chosen'], p: tf.Tensor3D, r: tf.Tensor3D) => {
        const f = d.features as NonNullable<typeof d.features>;
        const fr = f.call(d, r);
        return tf.div(tf.sum(tf.square(tf.sub(f.call(d, p), fr))), tf.sum(tf.square(fr)));
      };
      const { chosen, rejected } = reg.discriminators;
      return tf.mul(
        tf.add(
          side(chosen, b.policyChosenLatents, b.referenceChosenLatents),
          side(rejected, b.policyRejectedLatents, b.referenceRejectedLatents),
        ),
        0.5,
      );
    });
    expectClose(loss, Array.from(want.dataSync()), { rtol: 1e-6 });
    tf.dispose([x, value, loss, want, ...Object.values(grads), ...Object.values(b)]);
    reg.dispose();
  });

  it('refuses missing reference latents (ganpoLoss too), naming the argument', () => {
    const reg = plainRegularizer();
    const b = handComputedBatch();
    reg.discriminatorStep(b);
    const before = tf.memory().numTensors;
    expectGanpoError(
      () =>
        // A JavaScript caller can still leave them out; the types require them.
        reg.adversarialLoss({
          policyChosenLatents: b.policyChosenLatents,
          policyRejectedLatents: b.policyRejectedLatents,
        } as never),
      'INVALID_ARGUMENT',
      'referenceChosenLatents',
    );
    const pref = tf.scalar(0.7);
    expectGanpoError(
      () =>
        ganpoLoss({
          regularizer: reg,
          preference: pref,
          policyChosenLatents: b.policyChosenLatents,
          policyRejectedLatents: b.policyRejectedLatents,
          referenceChosenLatents: b.referenceChosenLatents,
        } as never),
      'INVALID_ARGUMENT',
      'referenceRejectedLatents',
    );
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([pref, ...Object.values(b)]);
    reg.dispose();
  });

  it("refuses 'paired-feature-matching' for discriminators without features", () => {
    const make = (seed: number) => {
      const d = new MLPDiscriminator({ latentDim: 2, hiddenDims: [4], seed });
      // A user-written discriminator: the interface without the optional features method.
      const bare = {
        latentDim: d.latentDim,
        apply: d.apply.bind(d),
        trainableVariables: d.trainableVariables,
        stateDict: d.stateDict.bind(d),
        loadStateDict: d.loadStateDict.bind(d),
        dispose: d.dispose.bind(d),
      };
      return { d, bare };
    };
    const a = make(1);
    const c = make(2);
    expectGanpoError(
      () => new GanpoRegularizer({ discriminators: { chosen: a.bare as never, rejected: c.bare as never } }),
      'INVALID_OPTION',
      'generator',
    );
    const ok = new GanpoRegularizer({
      discriminators: { chosen: a.bare as never, rejected: c.bare as never },
      generator: 'paired-least-squares',
    });
    expect(ok.generator).toBe('paired-least-squares');
    a.d.dispose();
    c.d.dispose();
  });

  it('features(): the critic input of the last Linear, [B, F], leak-free, for both discriminators', async () => {
    const x = tf.randomNormal([3, 4, 6], 0, 1, 'float32', 3) as tf.Tensor3D;
    const mlp = new MLPDiscriminator({ latentDim: 6, hiddenDims: [5, 7], seed: 1 });
    const tr = new TransformerDiscriminator({
      latentDim: 6,
      hiddenDim: 8,
      numLayers: 1,
      numHeads: 2,
      ffnDim: 16,
      maxSeqLen: 8,
      dropout: 0,
      seed: 2,
    });
    await expectNoLeak(() => {
      const f1 = mlp.features(x);
      const f2 = tr.features(x);
      expect(f1.shape).toEqual([3, 7]);
      expect(f2.shape).toEqual([3, 8]);
      tf.dispose([f1, f2]);
    });
    tf.dispose(x);
    mlp.dispose();
    tr.dispose();
  });
});

describe('DiagnosticsMonitor warnings (once per regularizer)', () => {
  it('warns once when the critics stay at chance while the drift grows', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const m = new DiagnosticsMonitor();
    const acc = { chosen: 0.5, rejected: 0.5 };
    for (let i = 0; i < MONITOR.window - 1; i++)
      m.observeStep({ criticAccuracy: acc, divergence: 0, drift: 0.01 + 0.001 * i });
    expect(warn).not.toHaveBeenCalled();
    m.observeStep({ criticAccuracy: acc, divergence: 0, drift: 0.1 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('Critic at chance');
    for (let i = 0; i < 60; i++) m.observeStep({ criticAccuracy: acc, divergence: 0, drift: 1 + i });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(m.warnings).toEqual(['chance']);
  });

  it('no warning while the critics learn, or while the drift stays flat', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const learning = new DiagnosticsMonitor();
    const flat = new DiagnosticsMonitor();
    const acc = { chosen: 0.9, rejected: 0.9 };
    for (let i = 0; i < 2 * MONITOR.window; i++) {
      learning.observeStep({ criticAccuracy: acc, divergence: 0.3, drift: 0.01 * (i + 1) });
      flat.observeStep({ criticAccuracy: acc, divergence: 0, drift: 0.05 });
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it('warns once when a critic sits at its loss floor while the drift grows; not when the drift is flat', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const acc = { chosen: 0.95, rejected: 0.9 };
    const rising = new DiagnosticsMonitor();
    const flat = new DiagnosticsMonitor();
    const learning = new DiagnosticsMonitor();
    for (let i = 0; i < MONITOR.window; i++) {
      // Every other step at the floor: the share MONITOR.floorShare (0.5) is reached.
      rising.observeStep({ criticAccuracy: acc, divergence: 0.4, drift: 0.01 * (1 + i / 10) }, i % 2 === 0);
      flat.observeStep({ criticAccuracy: acc, divergence: 0.4, drift: 0.05 }, true);
      learning.observeStep({ criticAccuracy: acc, divergence: 0.4, drift: 0.01 * (1 + i / 10) }, false);
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('loss floor');
    expect(String(warn.mock.calls[0]?.[0])).toContain('Long runs');
    for (let i = 0; i < 60; i++)
      rising.observeStep({ criticAccuracy: acc, divergence: 0.4, drift: 1 + i }, true);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(rising.warnings).toEqual(['floor']);
    expect([...flat.warnings, ...learning.warnings]).toEqual([]);
  });

  it('warns once when the preference loss stalls while λ·L_adv is at least as large', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const falling = new DiagnosticsMonitor();
    const stalled = new DiagnosticsMonitor();
    for (let i = 0; i < MONITOR.window; i++) {
      falling.observeLosses(0.69 - 0.004 * i, 0.7);
      stalled.observeLosses(0.69, 0.7);
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('Preference loss stalls');
    stalled.observeLosses(0.69, 0.7);
    stalled.observeLosses(Number.NaN, 0.7);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(stalled.warnings).toEqual(['dominates']);
  });

  it('GanpoRegularizer.observeLosses weights the adversarial loss by λ', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const reg = new GanpoRegularizer({
      discriminators: {
        chosen: new MLPDiscriminator({ latentDim: 2, hiddenDims: [4], seed: 1 }),
        rejected: new MLPDiscriminator({ latentDim: 2, hiddenDims: [4], seed: 2 }),
      },
      weight: 0.01,
    });
    // λ·L_adv = 0.007 < 0.69: a stalled preference loss alone is no warning.
    for (let i = 0; i < MONITOR.window; i++) reg.observeLosses(0.69, 0.7);
    expect(warn).not.toHaveBeenCalled();
    reg.dispose();
  });
});
