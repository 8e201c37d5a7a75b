import * as tf from '@tensorflow/tfjs-core';
import { type DpoLossType, dpoLoss, preferenceMetrics } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { DPO_LOSS_TYPES, type DpoLossArgs } from '../src/losses/dpo';
import { F_DIVERGENCES } from '../src/losses/f-divergence';

import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

interface Case {
  name: string;
  args: Omit<DpoLossArgs, 'policyChosenLogps' | 'policyRejectedLogps'>;
  inputs: Record<string, number[]>;
  expected: {
    losses: number[];
    loss: number;
    chosenRewards: number[];
    rejectedRewards: number[];
    gradPolicyChosen: number[];
    gradPolicyRejected: number[];
  };
}

const fixture = loadFixture<{ cases: Case[] }>('losses-dpo.json');
// Parity tolerance against the float64 PyTorch fixtures: 1e-4 relative. The absolute floor covers float32 rounding of values that
// are ~0 (saturated losses, tfjs softplus computing log(1+eˣ) without log1p in its tail).
const TOL = { rtol: 1e-4, atol: 1e-6 };

const FLT_MAX = 3.4028234663852886e38;

/**
 * expectClose, except that reference values beyond float32's range must come out as ±Infinity of the
 * same sign: squared losses (ipo, sppo_hard) of capped exponentials (e^80)² exceed float32 in the
 * extreme regime, exactly as they do in PyTorch float32 (TRL caps at the dtype's max exponent too).
 */
function expectCloseF32(actual: tf.Tensor, expected: number[] | number, opts: { label: string }): void {
  const a = Array.from(actual.dataSync());
  const e = typeof expected === 'number' ? [expected] : expected;
  const finiteIdx = e.map((v, i) => (Math.abs(v) <= FLT_MAX ? i : -1)).filter((i) => i >= 0);
  e.forEach((v, i) => {
    if (Math.abs(v) > FLT_MAX)
      expect(a[i], `${opts.label}[${i}] overflows float32`).toBe(Math.sign(v) * Number.POSITIVE_INFINITY);
  });
  expectClose(
    finiteIdx.map((i) => a[i] as number),
    finiteIdx.map((i) => e[i] as number),
    { ...TOL, label: opts.label },
  );
}

function tensors(inputs: Record<string, number[]>): Record<string, tf.Tensor1D> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor1d(v)]));
}

function run(c: Case): void {
  const t = tensors(c.inputs);
  const { policyChosenLogps, policyRejectedLogps, ...rest } = t as Record<string, tf.Tensor1D> & {
    policyChosenLogps: tf.Tensor1D;
    policyRejectedLogps: tf.Tensor1D;
  };
  const out = dpoLoss({ policyChosenLogps, policyRejectedLogps, ...rest, ...c.args });
  expectCloseF32(out.losses, c.expected.losses, { label: `${c.name} losses` });
  expectCloseF32(out.loss, c.expected.loss, { label: `${c.name} loss` });
  expectClose(out.chosenRewards, c.expected.chosenRewards, { ...TOL, label: `${c.name} chosenRewards` });
  expectClose(out.rejectedRewards, c.expected.rejectedRewards, {
    ...TOL,
    label: `${c.name} rejectedRewards`,
  });
  const grads = tf.grads((pc: tf.Tensor, pr: tf.Tensor) => {
    const o = dpoLoss({
      policyChosenLogps: pc as tf.Tensor1D,
      policyRejectedLogps: pr as tf.Tensor1D,
      ...rest,
      ...c.args,
    });
    tf.dispose([o.losses, o.chosenRewards, o.rejectedRewards]);
    return o.loss;
  })([policyChosenLogps, policyRejectedLogps]);
  expectCloseF32(grads[0] as tf.Tensor, c.expected.gradPolicyChosen, { label: `${c.name} d/dchosen` });
  expectCloseF32(grads[1] as tf.Tensor, c.expected.gradPolicyRejected, { label: `${c.name} d/drejected` });
  tf.dispose([out.losses, out.loss, out.chosenRewards, out.rejectedRewards, ...grads, ...Object.values(t)]);
}

describe('dpoLoss parity with the PyTorch reference (values and gradients)', () => {
  it('covers every loss type × f-divergence × regime', () => {
    for (const type of DPO_LOSS_TYPES) {
      for (const div of F_DIVERGENCES) {
        for (const regime of ['typical', 'extreme', 'beta_small', 'beta_large', 'batch1']) {
          expect(fixture.cases.some((c) => c.name === `${type}/${div}/${regime}`)).toBe(true);
        }
      }
    }
  });

  for (const type of DPO_LOSS_TYPES) {
    it(`${type}: all f-divergences and regimes, reference-free, options`, () => {
      const cases = fixture.cases.filter((c) => c.name.startsWith(`${type}/`));
      expect(cases.length).toBeGreaterThanOrEqual(21);
      for (const c of cases) run(c);
    });
  }

  it('mixes of loss types (loss_type=[...]) and per-pair weights', () => {
    const cases = fixture.cases.filter((c) => c.name.startsWith('mix/') || c.name === 'sigmoid/weights');
    expect(cases.length).toBe(3);
    for (const c of cases) run(c);
  });
});

describe('dpoLoss published vectors', () => {
  it("reproduces torchtune's DPO test vectors (β 0.1, Δ = [0, 10, 20])", () => {
    // Δ = (π_c − π_r) − (ref_c − ref_r) with the reference at 0.
    const pc = tf.tensor1d([0, 10, 20]);
    const pr = tf.tensor1d([0, 0, 0]);
    const out = dpoLoss({ policyChosenLogps: pc, policyRejectedLogps: pr, beta: 0.1 });
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: torchtune's published vector, quoted as published
    expectClose(out.losses, [0.693147, 0.313262, 0.126928], { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([pc, pr, out.losses, out.loss, out.chosenRewards, out.rejectedRewards]);
  });

  it('reverse-KL sigmoid equals the closed form log(1+e^{−βΔ}) (independent check)', () => {
    const pc = tf.tensor1d([-3, -8]);
    const pr = tf.tensor1d([-5, -2]);
    const rc = tf.tensor1d([-4, -7]);
    const rr = tf.tensor1d([-4, -3]);
    const out = dpoLoss({
      policyChosenLogps: pc,
      policyRejectedLogps: pr,
      referenceChosenLogps: rc,
      referenceRejectedLogps: rr,
      beta: 0.5,
    });
    // Δ = (−3+4) − (−5+4) = 2 and (−8+7) − (−2+3) = −2.
    expectClose(out.losses, [Math.log1p(Math.exp(-1)), Math.log1p(Math.exp(1))], { rtol: 1e-6 });
    expectClose(out.chosenRewards, [0.5, -0.5]);
    expectClose(out.rejectedRewards, [-0.5, 0.5]);
    const m = preferenceMetrics(out);
    expect(m['rewards/accuracies']).toBeCloseTo(0.5, 6);
    expect(m['rewards/margins']).toBeCloseTo(0, 6);
    expect(m['rewards/chosen']).toBeCloseTo(0, 6);
    expect(m['rewards/rejected']).toBeCloseTo(0, 6);
    tf.dispose([pc, pr, rc, rr, out.losses, out.loss, out.chosenRewards, out.rejectedRewards]);
  });

  it('rewards are detached (TRL .detach()): no gradient flows through them', () => {
    const pc = tf.tensor1d([-3, -8]);
    const pr = tf.tensor1d([-5, -2]);
    const g = tf.grad((x: tf.Tensor) => {
      const o = dpoLoss({ policyChosenLogps: x as tf.Tensor1D, policyRejectedLogps: pr });
      return tf.sum(o.chosenRewards);
    })(pc);
    expectClose(g, [0, 0]);
    tf.dispose([pc, pr, g]);
  });
});

describe('dpoLoss leaks nothing', () => {
  it('forward and backward, every loss type', async () => {
    const pc = tf.tensor1d([-3, -8, -1]);
    const pr = tf.tensor1d([-5, -2, -4]);
    const rc = tf.tensor1d([-4, -7, -2]);
    const rr = tf.tensor1d([-4, -3, -3]);
    const lc = tf.tensor1d([3, 0, 5], 'int32');
    const lr = tf.tensor1d([2, 4, 1]);
    for (const lossType of DPO_LOSS_TYPES) {
      const eps = lossType === 'exo_pair' ? 0.1 : 0;
      await expectNoLeak(() => {
        const out = dpoLoss({
          policyChosenLogps: pc,
          policyRejectedLogps: pr,
          referenceChosenLogps: rc,
          referenceRejectedLogps: rr,
          chosenLengths: lc,
          rejectedLengths: lr,
          lossType,
          labelSmoothing: eps,
          fDivergence: 'js_divergence',
        });
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
          const o = dpoLoss({
            policyChosenLogps: a as tf.Tensor1D,
            policyRejectedLogps: b as tf.Tensor1D,
            referenceChosenLogps: rc,
            referenceRejectedLogps: rr,
            chosenLengths: lc,
            rejectedLengths: lr,
            lossType,
            labelSmoothing: eps,
          });
          return o.loss;
        })([pc, pr]);
        tf.dispose([out.losses, out.loss, out.chosenRewards, out.rejectedRewards, ...g]);
      });
    }
    tf.dispose([pc, pr, rc, rr, lc, lr]);
  });
});

describe('dpoLoss rejects bad input', () => {
  const pc = tf.tensor1d([-3, -8, -1]);
  const pr = tf.tensor1d([-5, -2, -4]);
  const base = { policyChosenLogps: pc, policyRejectedLogps: pr };

  it('options', () => {
    expectGanpoError(() => dpoLoss({ ...base, beta: 0 }), 'OUT_OF_RANGE', 'beta');
    expectGanpoError(() => dpoLoss({ ...base, beta: -1 }), 'OUT_OF_RANGE', 'beta');
    expectGanpoError(() => dpoLoss({ ...base, beta: Number.NaN }), 'NON_FINITE', 'beta');
    expectGanpoError(
      () => dpoLoss({ ...base, lossType: 'kto' as DpoLossType }),
      'INVALID_OPTION',
      'lossType',
    );
    expectGanpoError(() => dpoLoss({ ...base, lossType: [] }), 'INVALID_OPTION', 'lossType');
    expectGanpoError(
      () => dpoLoss({ ...base, lossType: ['sigmoid', 'hinge'], lossWeights: [1] }),
      'INVALID_OPTION',
      'lossWeights',
    );
    expectGanpoError(
      () => dpoLoss({ ...base, fDivergence: 'kl' as 'reverse_kl' }),
      'INVALID_OPTION',
      'fDivergence',
    );
    expectGanpoError(() => dpoLoss({ ...base, alpha: Number.POSITIVE_INFINITY }), 'NON_FINITE', 'alpha');
    expectGanpoError(
      () => dpoLoss({ ...base, lossType: 'discopop', discopopTau: 0 }),
      'OUT_OF_RANGE',
      'discopopTau',
    );
  });

  it('label smoothing ranges per loss', () => {
    expectGanpoError(() => dpoLoss({ ...base, labelSmoothing: 0.6 }), 'OUT_OF_RANGE', 'labelSmoothing');
    expectGanpoError(() => dpoLoss({ ...base, labelSmoothing: -0.1 }), 'OUT_OF_RANGE', 'labelSmoothing');
    expectGanpoError(
      () => dpoLoss({ ...base, lossType: 'robust', labelSmoothing: 0.5 }),
      'OUT_OF_RANGE',
      'labelSmoothing',
    );
    expectGanpoError(() => dpoLoss({ ...base, lossType: 'exo_pair' }), 'OUT_OF_RANGE', 'labelSmoothing');
    expectGanpoError(
      () => dpoLoss({ ...base, lossType: 'exo_pair', labelSmoothing: 1 }),
      'OUT_OF_RANGE',
      'labelSmoothing',
    );
    expectGanpoError(
      () => dpoLoss({ ...base, lossType: 'aot', labelSmoothing: 0.51 }),
      'OUT_OF_RANGE',
      'labelSmoothing',
    );
  });

  it('references: both or neither; lengths for ipo and sigmoid_norm', () => {
    const r = tf.tensor1d([-1, -1, -1]);
    expectGanpoError(
      () => dpoLoss({ ...base, referenceChosenLogps: r }),
      'INVALID_ARGUMENT',
      'referenceRejectedLogps',
    );
    expectGanpoError(
      () => dpoLoss({ ...base, referenceRejectedLogps: r }),
      'INVALID_ARGUMENT',
      'referenceChosenLogps',
    );
    expectGanpoError(() => dpoLoss({ ...base, lossType: 'ipo' }), 'INVALID_ARGUMENT', 'chosenLengths');
    expectGanpoError(
      () => dpoLoss({ ...base, lossType: ['sigmoid', 'sigmoid_norm'], chosenLengths: r }),
      'INVALID_ARGUMENT',
      'rejectedLengths',
    );
    const len = tf.tensor1d([1, 2, 3]);
    expectGanpoError(
      () => dpoLoss({ ...base, lossType: 'ipo', chosenLengths: r, rejectedLengths: len }),
      'OUT_OF_RANGE',
      'chosenLengths',
    );
    tf.dispose([r, len]);
  });

  it('ranks, lengths, dtypes, finiteness, weights', () => {
    const short = tf.tensor1d([-1, -2]);
    const m = tf.tensor2d([[-1, -2, -3]]);
    const nan = tf.tensor1d([-1, Number.NaN, -3]);
    const ints = tf.tensor1d([-1, -2, -3], 'int32');
    const empty = tf.tensor1d([]);
    const negW = tf.tensor1d([1, -1, 1]);
    expectGanpoError(
      () => dpoLoss({ ...base, policyRejectedLogps: short }),
      'SHAPE_MISMATCH',
      'policyRejectedLogps',
    );
    expectGanpoError(
      () => dpoLoss({ ...base, policyChosenLogps: m as unknown as tf.Tensor1D }),
      'SHAPE_MISMATCH',
      'policyChosenLogps',
    );
    expectGanpoError(
      () => dpoLoss({ ...base, policyRejectedLogps: nan }),
      'NON_FINITE',
      'policyRejectedLogps',
    );
    expectGanpoError(
      () => dpoLoss({ ...base, policyChosenLogps: ints }),
      'INVALID_DTYPE',
      'policyChosenLogps',
    );
    expectGanpoError(
      () => dpoLoss({ policyChosenLogps: empty, policyRejectedLogps: empty }),
      'SHAPE_MISMATCH',
      'policyChosenLogps',
    );
    expectGanpoError(
      () => dpoLoss({ ...base, referenceChosenLogps: short, referenceRejectedLogps: short }),
      'SHAPE_MISMATCH',
      'referenceChosenLogps',
    );
    expectGanpoError(() => dpoLoss({ ...base, weights: negW }), 'OUT_OF_RANGE', 'weights');
    expectGanpoError(
      () => dpoLoss({ ...base, policyChosenLogps: 'x' as unknown as tf.Tensor1D }),
      'INVALID_ARGUMENT',
      'policyChosenLogps',
    );
    tf.dispose([short, m, nan, ints, empty, negW]);
  });
});

describe('required inputs', () => {
  it('a missing policy log-prob tensor is named', () => {
    const pc = tf.tensor1d([-1]);
    expectGanpoError(
      () => dpoLoss({ policyChosenLogps: pc } as unknown as DpoLossArgs),
      'INVALID_ARGUMENT',
      'policyRejectedLogps',
    );
    pc.dispose();
  });
});
