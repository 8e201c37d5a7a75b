import * as tf from '@tensorflow/tfjs-core';
import { orpoLoss, preferenceMetrics, simpoLoss } from 'ganpo';
import { sortAscending } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { log1mexp } from '../src/losses/orpo';

import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

interface Case {
  name: string;
  args: Record<string, number | string>;
  inputs: { policyChosenLogps: number[]; policyRejectedLogps: number[]; chosenNll?: number };
  expected: Record<string, number | number[]>;
}
const fixture = loadFixture<{ simpo: Case[]; orpo: Case[] }>('losses-simpo-orpo.json');
const TOL = { rtol: 1e-4, atol: 1e-6 };

describe('simpoLoss parity with PyTorch', () => {
  for (const c of fixture.simpo) {
    it(c.name, () => {
      const pc = tf.tensor1d(c.inputs.policyChosenLogps);
      const pr = tf.tensor1d(c.inputs.policyRejectedLogps);
      const out = simpoLoss({ policyChosenLogps: pc, policyRejectedLogps: pr, ...c.args });
      for (const k of ['losses', 'loss', 'chosenRewards', 'rejectedRewards'] as const) {
        expectClose(out[k], c.expected[k] as number[], { ...TOL, label: k });
      }
      const [gc, gr] = tf.grads(
        (a: tf.Tensor, b: tf.Tensor) =>
          simpoLoss({ policyChosenLogps: a as tf.Tensor1D, policyRejectedLogps: b as tf.Tensor1D, ...c.args })
            .loss,
      )([pc, pr]);
      expectClose(gc as tf.Tensor, c.expected.gradPolicyChosen as number[], { ...TOL, label: 'd/dchosen' });
      expectClose(gr as tf.Tensor, c.expected.gradPolicyRejected as number[], {
        ...TOL,
        label: 'd/drejected',
      });
      tf.dispose([
        pc,
        pr,
        out.losses,
        out.loss,
        out.chosenRewards,
        out.rejectedRewards,
        gc as tf.Tensor,
        gr as tf.Tensor,
      ]);
    });
  }

  it('uses the SimPO repo defaults (β 2.0, γ/β 0.25): independent closed form', () => {
    const pc = tf.tensor1d([-1.0]);
    const pr = tf.tensor1d([-1.5]);
    const out = simpoLoss({ policyChosenLogps: pc, policyRejectedLogps: pr });
    // z = 2·(0.5 − 0.25) = 0.5 → log(1 + e^{−0.5})
    expectClose(out.loss, [Math.log1p(Math.exp(-0.5))], { rtol: 1e-6 });
    expectClose(out.chosenRewards, [-2]);
    tf.dispose([pc, pr, out.losses, out.loss, out.chosenRewards, out.rejectedRewards]);
  });
});

describe('orpoLoss parity with PyTorch', () => {
  for (const c of fixture.orpo) {
    it(c.name, () => {
      const pc = tf.tensor1d(c.inputs.policyChosenLogps);
      const pr = tf.tensor1d(c.inputs.policyRejectedLogps);
      const nll = c.inputs.chosenNll === undefined ? undefined : tf.scalar(c.inputs.chosenNll);
      const args = { ...c.args, chosenNll: nll };
      const out = orpoLoss({ policyChosenLogps: pc, policyRejectedLogps: pr, ...args });
      for (const k of [
        'losses',
        'loss',
        'chosenRewards',
        'rejectedRewards',
        'logOddsRatio',
        'logOddsChosen',
        'nllLoss',
      ] as const) {
        expectClose(out[k], c.expected[k] as number[], { ...TOL, label: k });
      }
      const [gc, gr] = tf.grads(
        (a: tf.Tensor, b: tf.Tensor) =>
          orpoLoss({ policyChosenLogps: a as tf.Tensor1D, policyRejectedLogps: b as tf.Tensor1D, ...args })
            .loss,
      )([pc, pr]);
      expectClose(gc as tf.Tensor, c.expected.gradPolicyChosen as number[], { ...TOL, label: 'd/dchosen' });
      expectClose(gr as tf.Tensor, c.expected.gradPolicyRejected as number[], {
        ...TOL,
        label: 'd/drejected',
      });
      tf.dispose([pc, pr, ...Object.values(out), gc as tf.Tensor, gr as tf.Tensor]);
      if (nll) nll.dispose();
    });
  }

  it('log1mexp is accurate on both branches and finite next to 0', () => {
    const xs = [-1e-7, -1e-4, -0.5, -0.7, -2, -20, -100];
    const x = tf.tensor1d(xs);
    const y = log1mexp(x);
    expectClose(
      y,
      xs.map((v) => Math.log(-Math.expm1(v))),
      { rtol: 1e-5, atol: 1e-7 },
    );
    tf.dispose([x, y]);
  });

  it('a response of probability 1 gives a finite loss and gradient (clamped at −1e-7)', () => {
    const pc = tf.tensor1d([0]);
    const pr = tf.tensor1d([-1]);
    const g = tf.grad(
      (a: tf.Tensor) => orpoLoss({ policyChosenLogps: a as tf.Tensor1D, policyRejectedLogps: pr }).loss,
    )(pc);
    expect(Number.isFinite(g.dataSync()[0])).toBe(true);
    tf.dispose([pc, pr, g]);
  });
});

describe('sortAscending', () => {
  it('sorts like torch.sort and sends each gradient to its source', () => {
    const x = tf.tensor1d([0.3, -2, 5, 1]);
    const w = tf.tensor1d([1, 10, 100, 1000]);
    const s = sortAscending(x);
    expectClose(s, [-2, 0.3, 1, 5]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(sortAscending(v as tf.Tensor1D), w)))(x);
    // x[1] = −2 lands at 0 (w 1), x[0] at 1 (w 10), x[3] at 2 (w 100), x[2] at 3 (w 1000).
    expectClose(g, [10, 1, 1000, 100]);
    const one = tf.tensor1d([4]);
    const g1 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(sortAscending(v as tf.Tensor1D), 3)))(one);
    expectClose(g1, [3]);
    tf.dispose([x, w, s, g, one, g1]);
  });

  it('leaks nothing and rejects bad input', async () => {
    const x = tf.tensor1d([3, 1, 2]);
    await expectNoLeak(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.square(sortAscending(v as tf.Tensor1D))))(x);
      const s = sortAscending(x);
      tf.dispose([g, s]);
    });
    const m = tf.zeros([2, 2]);
    const i = tf.tensor1d([1, 2], 'int32');
    expectGanpoError(() => sortAscending(m as unknown as tf.Tensor1D), 'SHAPE_MISMATCH', 'x');
    expectGanpoError(() => sortAscending(i), 'INVALID_DTYPE', 'x');
    tf.dispose([x, m, i]);
  });
});

describe('preferenceMetrics', () => {
  it("returns TRL's keys as plain numbers", () => {
    const c = tf.tensor1d([1, 0.5, -1, 2]);
    const r = tf.tensor1d([0, 1, -2, 2]);
    const m = preferenceMetrics({ chosenRewards: c, rejectedRewards: r });
    expect(Object.keys(m).sort()).toEqual([
      'rewards/accuracies',
      'rewards/chosen',
      'rewards/margins',
      'rewards/rejected',
    ]);
    expect(m['rewards/chosen']).toBeCloseTo(0.625, 6);
    expect(m['rewards/rejected']).toBeCloseTo(0.25, 6);
    expect(m['rewards/accuracies']).toBeCloseTo(0.5, 6); // ties are not accurate
    expect(m['rewards/margins']).toBeCloseTo(0.375, 6);
    tf.dispose([c, r]);
  });
});

describe('SimPO / ORPO leak nothing and reject bad input', () => {
  const pc = tf.tensor1d([-1, -2, -0.5]);
  const pr = tf.tensor1d([-1.5, -1, -3]);

  it('no leak, forward and backward', async () => {
    await expectNoLeak(() => {
      for (const lossType of ['sigmoid', 'hinge'] as const) {
        const o = simpoLoss({
          policyChosenLogps: pc,
          policyRejectedLogps: pr,
          lossType,
          labelSmoothing: 0.1,
        });
        const g = tf.grad(
          (a: tf.Tensor) =>
            simpoLoss({ policyChosenLogps: a as tf.Tensor1D, policyRejectedLogps: pr, lossType }).loss,
        )(pc);
        tf.dispose([o.losses, o.loss, o.chosenRewards, o.rejectedRewards, g]);
      }
      const o = orpoLoss({ policyChosenLogps: pc, policyRejectedLogps: pr });
      const g = tf.grad(
        (a: tf.Tensor) => orpoLoss({ policyChosenLogps: a as tf.Tensor1D, policyRejectedLogps: pr }).loss,
      )(pc);
      tf.dispose([...Object.values(o), g]);
    });
  });

  it('bad options and inputs', () => {
    const base = { policyChosenLogps: pc, policyRejectedLogps: pr };
    const short = tf.tensor1d([-1]);
    const nan = tf.tensor1d([-1, Number.NaN, -1]);
    const pos = tf.tensor1d([-1, 0.5, -1]);
    const nll2 = tf.tensor1d([1, 2]);
    expectGanpoError(() => simpoLoss({ ...base, beta: 0 }), 'OUT_OF_RANGE', 'beta');
    expectGanpoError(() => simpoLoss({ ...base, labelSmoothing: 0.7 }), 'OUT_OF_RANGE', 'labelSmoothing');
    expectGanpoError(
      () => simpoLoss({ ...base, gammaBetaRatio: Number.NaN }),
      'NON_FINITE',
      'gammaBetaRatio',
    );
    expectGanpoError(() => simpoLoss({ ...base, lossType: 'ipo' as 'hinge' }), 'INVALID_OPTION', 'lossType');
    expectGanpoError(
      () => simpoLoss({ ...base, policyRejectedLogps: short }),
      'SHAPE_MISMATCH',
      'policyRejectedLogps',
    );
    expectGanpoError(() => simpoLoss({ ...base, policyChosenLogps: nan }), 'NON_FINITE', 'policyChosenLogps');
    expectGanpoError(() => orpoLoss({ ...base, beta: -0.1 }), 'OUT_OF_RANGE', 'beta');
    expectGanpoError(
      () => orpoLoss({ ...base, policyChosenLogps: pos }),
      'OUT_OF_RANGE',
      'policyChosenLogps',
    );
    expectGanpoError(
      () => orpoLoss({ ...base, policyRejectedLogps: short }),
      'SHAPE_MISMATCH',
      'policyRejectedLogps',
    );
    expectGanpoError(() => orpoLoss({ ...base, chosenNll: nll2 }), 'SHAPE_MISMATCH', 'chosenNll');
    tf.dispose([short, nan, pos, nll2]);
  });
});
