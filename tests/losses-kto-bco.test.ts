import * as tf from '@tensorflow/tfjs-core';
import { AdamW, bcoLoss, GanpoRegularizer, ganpoLoss, ktoLoss, RunningMoments } from 'ganpo';
import { describe, expect, it } from 'vitest';

import type { KtoLossArgs } from '../src/losses/kto';

import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

type Inputs = Record<string, number[]>;
interface Expected {
  losses: number[];
  loss: number;
  chosenRewards: number[];
  rejectedRewards: number[];
  gradPolicyChosen: number[];
  gradPolicyRejected: number[];
}
interface KtoCase {
  name: string;
  args: Omit<
    KtoLossArgs,
    'policyChosenLogps' | 'referenceChosenLogps' | 'policyRejectedLogps' | 'referenceRejectedLogps'
  >;
  inputs: Inputs;
  expected: Expected & { kl: number; gradPolicyKl?: number[] };
}
interface BcoStep {
  updateRunning: boolean;
  inputs: Inputs;
  expected: Expected & { delta: number; running: { mean: number; var: number; std: number; count: number } };
}
interface BcoCase {
  name: string;
  args: { beta: number; delta: number };
  inputs: Inputs;
  expected: Expected & { delta: number };
}
interface Fixture {
  meta: { trl: string };
  kto: KtoCase[];
  bco: { runs: { name: string; beta: number; steps: BcoStep[] }[]; cases: BcoCase[] };
}

const fx = loadFixture<Fixture>('losses-kto-bco.json');
const TOL = { rtol: 1e-4, atol: 1e-6 };

function tensors(inputs: Inputs): Record<string, tf.Tensor1D> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor1d(v, 'float32')]));
}

type Unpaired = {
  policyChosenLogps: tf.Tensor1D;
  referenceChosenLogps: tf.Tensor1D;
  policyRejectedLogps: tf.Tensor1D;
  referenceRejectedLogps: tf.Tensor1D;
};

function expectOutputs(
  out: { losses: tf.Tensor; loss: tf.Tensor; chosenRewards: tf.Tensor; rejectedRewards: tf.Tensor },
  e: Expected,
  label: string,
): void {
  expectClose(out.losses, e.losses, { ...TOL, label: `${label} losses` });
  expectClose(out.loss, e.loss, { ...TOL, label: `${label} loss` });
  expectClose(out.chosenRewards, e.chosenRewards, { ...TOL, label: `${label} chosenRewards` });
  expectClose(out.rejectedRewards, e.rejectedRewards, { ...TOL, label: `${label} rejectedRewards` });
}

describe('ktoLoss parity with TRL KTOTrainer._compute_loss (PyTorch, values and gradients)', () => {
  it('fixtures follow a named TRL revision and cover both loss types', () => {
    expect(fx.meta.trl).toMatch(/^[0-9a-f]{40}$/);
    expect(fx.kto.filter((c) => c.args.lossType === 'kto').length).toBeGreaterThanOrEqual(8);
    expect(fx.kto.filter((c) => c.args.lossType === 'apo_zero_unpaired').length).toBeGreaterThanOrEqual(2);
  });

  for (const c of fx.kto) {
    it(c.name, () => {
      const t = tensors(c.inputs) as unknown as Unpaired & Record<string, tf.Tensor1D>;
      const out = ktoLoss({ ...t, ...c.args });
      expectOutputs(out, c.expected, c.name);
      expectClose(out.kl, c.expected.kl, { ...TOL, label: `${c.name} kl` });
      const withKl = t.policyKlLogps !== undefined;
      const xs = [
        t.policyChosenLogps,
        t.policyRejectedLogps,
        ...(withKl ? [t.policyKlLogps as tf.Tensor1D] : []),
      ];
      const grads = tf.grads((...ins: tf.Tensor[]) => {
        const o = ktoLoss({
          ...t,
          ...c.args,
          policyChosenLogps: ins[0] as tf.Tensor1D,
          policyRejectedLogps: ins[1] as tf.Tensor1D,
          ...(withKl ? { policyKlLogps: ins[2] as tf.Tensor1D } : {}),
        });
        tf.dispose([o.losses, o.chosenRewards, o.rejectedRewards, o.kl]);
        return o.loss;
      })(xs);
      expectClose(grads[0] as tf.Tensor, c.expected.gradPolicyChosen, {
        ...TOL,
        label: `${c.name} d/dchosen`,
      });
      expectClose(grads[1] as tf.Tensor, c.expected.gradPolicyRejected, {
        ...TOL,
        label: `${c.name} d/drejected`,
      });
      if (withKl) {
        // The KL estimate is detached in TRL: no gradient reaches the KL completions.
        expectClose(grads[2] as tf.Tensor, c.expected.gradPolicyKl as number[], { atol: 0, rtol: 0 });
      }
      tf.dispose([
        out.losses,
        out.loss,
        out.chosenRewards,
        out.rejectedRewards,
        out.kl,
        ...grads,
        ...Object.values(t),
      ]);
    });
  }
});

describe('bcoLoss and RunningMoments parity with TRL BCOTrainer.bco_loss / RunningMoments', () => {
  for (const run of fx.bco.runs) {
    it(`${run.name}: δ and the running state follow TRL over ${run.steps.length} batches`, () => {
      const running = new RunningMoments();
      run.steps.forEach((step, i) => {
        const label = `${run.name} step ${i}`;
        const t = tensors(step.inputs) as unknown as Unpaired;
        const out = bcoLoss({ ...t, beta: run.beta, running, updateRunning: step.updateRunning });
        expectOutputs(out, step.expected, label);
        expectClose(out.delta, step.expected.delta, { rtol: 1e-5, atol: 1e-7, label: `${label} delta` });
        const r = running.stateDict();
        const want = step.expected.running;
        expectClose([r.mean, r.var, r.std, r.count], [want.mean, want.var, want.std, want.count], {
          rtol: 1e-5,
          atol: 1e-7,
          label: `${label} running`,
        });
        // δ is a constant: the gradient is that of the loss at fixed δ (no second update here).
        const grads = tf.grads((pc: tf.Tensor, pr: tf.Tensor) => {
          const o = bcoLoss({
            ...t,
            policyChosenLogps: pc as tf.Tensor1D,
            policyRejectedLogps: pr as tf.Tensor1D,
            beta: run.beta,
            delta: out.delta,
          });
          tf.dispose([o.losses, o.chosenRewards, o.rejectedRewards]);
          return o.loss;
        })([t.policyChosenLogps, t.policyRejectedLogps]);
        expectClose(grads[0] as tf.Tensor, step.expected.gradPolicyChosen, {
          ...TOL,
          label: `${label} d/dchosen`,
        });
        expectClose(grads[1] as tf.Tensor, step.expected.gradPolicyRejected, {
          ...TOL,
          label: `${label} d/drejected`,
        });
        tf.dispose([
          out.losses,
          out.loss,
          out.chosenRewards,
          out.rejectedRewards,
          ...grads,
          ...Object.values(t),
        ]);
      });
    });
  }

  for (const c of fx.bco.cases) {
    it(`${c.name}: explicit δ${c.inputs.rejectedWeights ? ', density-ratio weights' : ''}`, () => {
      const t = tensors(c.inputs) as unknown as Unpaired & { rejectedWeights?: tf.Tensor1D };
      const out = bcoLoss({ ...t, ...c.args });
      expectOutputs(out, c.expected, c.name);
      expect(out.delta).toBe(c.args.delta);
      const grads = tf.grads((pc: tf.Tensor, pr: tf.Tensor) => {
        const o = bcoLoss({
          ...t,
          ...c.args,
          policyChosenLogps: pc as tf.Tensor1D,
          policyRejectedLogps: pr as tf.Tensor1D,
        });
        tf.dispose([o.losses, o.chosenRewards, o.rejectedRewards]);
        return o.loss;
      })([t.policyChosenLogps, t.policyRejectedLogps]);
      expectClose(grads[0] as tf.Tensor, c.expected.gradPolicyChosen, {
        ...TOL,
        label: `${c.name} d/dchosen`,
      });
      expectClose(grads[1] as tf.Tensor, c.expected.gradPolicyRejected, {
        ...TOL,
        label: `${c.name} d/drejected`,
      });
      tf.dispose([
        out.losses,
        out.loss,
        out.chosenRewards,
        out.rejectedRewards,
        ...grads,
        ...Object.values(t),
      ]);
    });
  }

  it('RunningMoments round-trips through TRL running.json keys and continues identically', () => {
    const a = new RunningMoments();
    a.update([0.1, -0.3, 0.7]);
    const b = new RunningMoments();
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    expect(Object.keys(a.stateDict()).sort()).toEqual(['count', 'mean', 'std', 'var']);
    a.update([1, 2]);
    b.update([1, 2]);
    expect(b.stateDict()).toEqual(a.stateDict());
  });
});

function small(): Unpaired {
  return {
    policyChosenLogps: tf.tensor1d([-3, -4]),
    referenceChosenLogps: tf.tensor1d([-3.5, -4.2]),
    policyRejectedLogps: tf.tensor1d([-5, -2, -6]),
    referenceRejectedLogps: tf.tensor1d([-4.5, -2.5, -6.1]),
  };
}

describe('ktoLoss / bcoLoss bad input, leaks and state', () => {
  it('refuse bad options and inputs with a named argument, leaving no tensor', () => {
    const x = small();
    const kl = { policyKlLogps: tf.tensor1d([-4, -5]), referenceKlLogps: tf.tensor1d([-4.2, -5.1]) };
    expectGanpoError(() => ktoLoss({ ...x, ...kl, beta: 0 }), 'OUT_OF_RANGE', 'beta');
    expectGanpoError(
      () => ktoLoss({ ...x, ...kl, lossType: 'sigmoid' as never }),
      'INVALID_OPTION',
      'lossType',
    );
    expectGanpoError(() => ktoLoss({ ...x, ...kl, desirableWeight: -1 }), 'OUT_OF_RANGE', 'desirableWeight');
    expectGanpoError(
      () => ktoLoss({ ...x, ...kl, undesirableWeight: Number.NaN }),
      'NON_FINITE',
      'undesirableWeight',
    );
    expectGanpoError(() => ktoLoss(x), 'INVALID_ARGUMENT', 'policyKlLogps');
    expectGanpoError(
      () => ktoLoss({ ...x, policyKlLogps: kl.policyKlLogps }),
      'INVALID_ARGUMENT',
      'referenceKlLogps',
    );
    expectGanpoError(() => ktoLoss({ ...x, ...kl, kl: 0.5 }), 'INVALID_ARGUMENT', 'kl');
    const short = tf.tensor1d([-1]);
    expectGanpoError(
      () => ktoLoss({ ...x, ...kl, referenceChosenLogps: short }),
      'SHAPE_MISMATCH',
      'referenceChosenLogps',
    );
    expectGanpoError(
      () => ktoLoss({ ...x, policyKlLogps: kl.policyKlLogps, referenceKlLogps: short }),
      'SHAPE_MISMATCH',
      'referenceKlLogps',
    );
    const nan = tf.tensor1d([Number.NaN, -1]);
    expectGanpoError(
      () => ktoLoss({ ...x, ...kl, policyChosenLogps: nan }),
      'NON_FINITE',
      'policyChosenLogps',
    );
    const empty = tf.tensor1d([]);
    expectGanpoError(
      () =>
        ktoLoss({
          policyChosenLogps: empty,
          referenceChosenLogps: empty,
          policyRejectedLogps: empty,
          referenceRejectedLogps: empty,
          kl: 0,
        }),
      'SHAPE_MISMATCH',
      'policyChosenLogps',
    );
    const int = tf.tensor1d([1, 2], 'int32');
    expectGanpoError(
      () => ktoLoss({ ...x, ...kl, policyChosenLogps: int }),
      'INVALID_DTYPE',
      'policyChosenLogps',
    );

    const running = new RunningMoments();
    expectGanpoError(() => bcoLoss({ ...x }), 'INVALID_ARGUMENT', 'running');
    expectGanpoError(() => bcoLoss({ ...x, running, delta: 0 }), 'INVALID_ARGUMENT', 'running');
    expectGanpoError(() => bcoLoss({ ...x, running: {} as never }), 'INVALID_ARGUMENT', 'running');
    expectGanpoError(() => bcoLoss({ ...x, delta: Number.POSITIVE_INFINITY }), 'NON_FINITE', 'delta');
    expectGanpoError(() => bcoLoss({ ...x, delta: 0, beta: -1 }), 'OUT_OF_RANGE', 'beta');
    expectGanpoError(
      () => bcoLoss({ ...x, delta: 0, rejectedWeights: short }),
      'SHAPE_MISMATCH',
      'rejectedWeights',
    );
    const negW = tf.tensor1d([1, -1, 1]);
    expectGanpoError(
      () => bcoLoss({ ...x, delta: 0, rejectedWeights: negW }),
      'OUT_OF_RANGE',
      'rejectedWeights',
    );
    // A refused call does not move the running mean.
    expectGanpoError(() => bcoLoss({ ...x, running, policyRejectedLogps: short }), 'SHAPE_MISMATCH');
    expect(running.stateDict()).toEqual({ mean: 0, std: 1, var: 1, count: 1e-24 });
    expectGanpoError(() => running.update([]), 'SHAPE_MISMATCH', 'xs');
    expectGanpoError(() => running.update(nan), 'NON_FINITE', 'xs');
    expect(running.stateDict()).toEqual({ mean: 0, std: 1, var: 1, count: 1e-24 });
    expectGanpoError(
      () => running.loadStateDict({ mean: 0, std: 1, var: -1, count: 1 }),
      'OUT_OF_RANGE',
      'var',
    );
    tf.dispose([...Object.values(x), ...Object.values(kl), short, nan, empty, int, negW]);
  });

  it('leave no tensor behind (values and gradients)', async () => {
    const x = small();
    const kl = { policyKlLogps: tf.tensor1d([-4, -5]), referenceKlLogps: tf.tensor1d([-4.2, -5.1]) };
    const running = new RunningMoments();
    await expectNoLeak(() => {
      const k = ktoLoss({ ...x, ...kl });
      const b = bcoLoss({ ...x, running });
      tf.dispose([k.losses, k.loss, k.chosenRewards, k.rejectedRewards, k.kl]);
      tf.dispose([b.losses, b.loss, b.chosenRewards, b.rejectedRewards]);
      const g = tf.grads((pc: tf.Tensor) => {
        const o = ktoLoss({ ...x, ...kl, policyChosenLogps: pc as tf.Tensor1D });
        tf.dispose([o.losses, o.chosenRewards, o.rejectedRewards, o.kl]);
        return o.loss;
      })([x.policyChosenLogps]);
      tf.dispose(g);
    });
    tf.dispose([...Object.values(x), ...Object.values(kl)]);
  });
});

describe('KTO and BCO with ganpoLoss', () => {
  it('the adversarial term adds to the unpaired loss and its gradient reaches the latents', () => {
    const B = 3;
    const T = 4;
    const H = 6;
    const r = new GanpoRegularizer({
      latentDim: H,
      critic: { hiddenDim: 8, numLayers: 1, numHeads: 2, ffnDim: 16, maxSeqLen: 8, dropout: 0 },
      seed: 3,
      weight: 0.5,
      optimizer: new AdamW({ learningRate: 1e-2 }),
    });
    const lat = (seed: number) => tf.randomNormal([B, T, H], 0, 1, 'float32', seed) as tf.Tensor3D;
    // Desirable examples play the chosen side, undesirable ones the rejected side.
    const h = {
      policyChosenLatents: lat(1),
      policyRejectedLatents: lat(2),
      referenceChosenLatents: lat(3),
      referenceRejectedLatents: lat(4),
    };
    r.discriminatorStep({
      policyChosenLatents: h.policyChosenLatents,
      policyRejectedLatents: h.policyRejectedLatents,
      referenceChosenLatents: h.referenceChosenLatents,
      referenceRejectedLatents: h.referenceRejectedLatents,
    });
    const x = {
      policyChosenLogps: tf.tensor1d([-3, -4, -2]),
      referenceChosenLogps: tf.tensor1d([-3.5, -4.2, -2.2]),
      policyRejectedLogps: tf.tensor1d([-5, -2, -6]),
      referenceRejectedLogps: tf.tensor1d([-4.5, -2.5, -6.1]),
    };
    const kl = {
      policyKlLogps: tf.tensor1d([-4, -5, -3]),
      referenceKlLogps: tf.tensor1d([-4.2, -5.1, -3.3]),
    };
    for (const make of [() => ktoLoss({ ...x, ...kl }), () => bcoLoss({ ...x, delta: 0.05 })]) {
      const pref = make();
      const out = ganpoLoss({
        regularizer: r,
        preference: pref,
        policyChosenLatents: h.policyChosenLatents,
        policyRejectedLatents: h.policyRejectedLatents,
        referenceChosenLatents: h.referenceChosenLatents,
        referenceRejectedLatents: h.referenceRejectedLatents,
      });
      const [total, p, adv] = [out.loss, out.preferenceLoss, out.regularizerLoss].map(
        (t) => t.dataSync()[0] as number,
      );
      expect(p).toBeCloseTo(pref.loss.dataSync()[0] as number, 6);
      expect(total).toBeCloseTo((p as number) + 0.5 * (adv as number), 6);
      tf.dispose([out.loss, out.preferenceLoss, out.regularizerLoss]);
      tf.dispose(Object.values(pref).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    }
    const { grads } = tf.tidy(() => {
      const g = tf.grads((pc: tf.Tensor, hc: tf.Tensor) => {
        const pref = ktoLoss({ ...x, ...kl, policyChosenLogps: pc as tf.Tensor1D });
        return ganpoLoss({
          regularizer: r,
          preference: pref,
          policyChosenLatents: hc as tf.Tensor3D,
          policyRejectedLatents: h.policyRejectedLatents,
          referenceChosenLatents: h.referenceChosenLatents,
          referenceRejectedLatents: h.referenceRejectedLatents,
        }).loss;
      })([x.policyChosenLogps, h.policyChosenLatents]);
      return { grads: g };
    });
    const norms = grads.map((g) => tf.tidy(() => tf.norm(g).dataSync()[0] as number));
    expect(norms[0]).toBeGreaterThan(0);
    expect(norms[1]).toBeGreaterThan(0);
    tf.dispose([...grads, ...Object.values(h), ...Object.values(x), ...Object.values(kl)]);
    r.dispose();
  });
});
