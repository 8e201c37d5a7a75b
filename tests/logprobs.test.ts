import * as tf from '@tensorflow/tfjs-core';
import {
  causalLogProbs,
  ldDpoLogProbs,
  nllLoss,
  type SequenceLogProbs,
  sequenceLogProbs,
  wpoLogWeights,
  wpoWeights,
} from 'ganpo';
import { describe, expect, it } from 'vitest';

import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

interface LpCase {
  name: string;
  causal: boolean;
  shape: [number, number, number];
  logits: number[];
  labels: number[];
  mask: number[];
  a: number[];
  c: number[];
  w: number[];
  expected: Record<'perToken' | 'sum' | 'mean' | 'count' | 'gradLogits' | 'wpoLogWeights', number[]>;
}
interface LdCase {
  alpha: number;
  shape: [number, number];
  chosenPerToken: number[];
  rejectedPerToken: number[];
  chosenMask: number[];
  rejectedMask: number[];
  wc: number[];
  wr: number[];
  expected: Record<'chosen' | 'rejected' | 'gradChosen' | 'gradRejected', number[]>;
}
const fixture = loadFixture<{ cases: LpCase[]; ldDpo: LdCase[] }>('logprobs.json');
const TOL = { rtol: 1e-4, atol: 1e-5 };

function inputs(c: LpCase) {
  const [b, t, v] = c.shape;
  return {
    logits: tf.tensor3d(c.logits, [b, t, v]),
    labels: tf.tensor2d(c.labels, [b, t], 'int32'),
    mask: tf.tensor2d(c.mask, [b, t]),
  };
}

function compute(c: LpCase, logits: tf.Tensor3D, labels: tf.Tensor2D, mask: tf.Tensor2D): SequenceLogProbs {
  return c.causal
    ? causalLogProbs({ logits, inputIds: labels, lossMask: mask })
    : sequenceLogProbs({ logits, labels, mask });
}

const disposeOut = (o: SequenceLogProbs): void => tf.dispose([o.sum, o.mean, o.count, o.perToken]);

describe('sequenceLogProbs / causalLogProbs parity with PyTorch (values and gradient w.r.t. logits)', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const { logits, labels, mask } = inputs(c);
      const out = compute(c, logits, labels, mask);
      expect(out.perToken.shape).toEqual([c.shape[0], c.causal ? c.shape[1] - 1 : c.shape[1]]);
      expectClose(out.perToken, c.expected.perToken, { ...TOL, label: 'perToken' });
      expectClose(out.sum, c.expected.sum, { ...TOL, label: 'sum' });
      expectClose(out.mean, c.expected.mean, { ...TOL, label: 'mean' });
      expectClose(out.count, c.expected.count, { ...TOL, label: 'count' });
      const a = tf.tensor1d(c.a);
      const cc = tf.tensor1d(c.c);
      const w = tf.tensor(c.w, out.perToken.shape);
      const g = tf.grad((x: tf.Tensor) => {
        const o = compute(c, x as tf.Tensor3D, labels, mask);
        return tf.addN([tf.sum(tf.mul(a, o.sum)), tf.sum(tf.mul(cc, o.mean)), tf.sum(tf.mul(w, o.perToken))]);
      })(logits);
      expectClose(g, c.expected.gradLogits, { ...TOL, label: 'd/dlogits' });
      const lw = c.causal
        ? wpoLogWeights({ logits, inputIds: labels, lossMask: mask })
        : wpoLogWeights({ logits, labels, mask });
      expectClose(lw, c.expected.wpoLogWeights, { ...TOL, label: 'wpoLogWeights' });
      disposeOut(out);
      tf.dispose([logits, labels, mask, a, cc, w, g, lw]);
    });
  }

  it('masked positions get exactly zero gradient, including the last causal position', () => {
    const logits = tf.randomNormal([2, 4, 6], 0, 5, 'float32', 3) as tf.Tensor3D;
    const labels = tf.tensor2d([1, 2, 3, 4, 5, 0, 1, 2], [2, 4], 'int32');
    const mask = tf.tensor2d([1, 0, 1, 0, 0, 0, 0, 0], [2, 4]);
    const g = tf.grad((x: tf.Tensor) => sequenceLogProbs({ logits: x as tf.Tensor3D, labels, mask }).sum)(
      logits,
    );
    const gv = g.arraySync() as number[][][];
    for (const [b, t] of [
      [0, 1],
      [0, 3],
      [1, 0],
      [1, 1],
      [1, 2],
      [1, 3],
    ] as const) {
      expect(gv[b]?.[t]?.every((x) => x === 0)).toBe(true);
    }
    const gc = tf.grad(
      (x: tf.Tensor) =>
        causalLogProbs({
          logits: x as tf.Tensor3D,
          inputIds: labels,
          lossMask: tf.onesLike(mask) as tf.Tensor2D,
        }).sum,
    )(logits);
    const gcv = gc.arraySync() as number[][][];
    expect(gcv[0]?.[3]?.every((x) => x === 0)).toBe(true);
    expect(gcv[1]?.[3]?.every((x) => x === 0)).toBe(true);
    tf.dispose([logits, labels, mask, g, gc]);
  });

  it('a row of a single token equals log softmax at its label (independent check)', () => {
    const row = [0.5, -1, 2, 0];
    const logits = tf.tensor3d([[row]], [1, 1, 4]);
    const labels = tf.tensor2d([[2]], [1, 1], 'int32');
    const mask = tf.tensor2d([[1]], [1, 1]);
    const out = sequenceLogProbs({ logits, labels, mask });
    const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
    expectClose(out.sum, [2 - lse], { rtol: 1e-6 });
    disposeOut(out);
    tf.dispose([logits, labels, mask]);
  });
});

describe('WPO weights, LD-DPO aggregation, NLL term', () => {
  it('wpoWeights = min(exp(w_c + w_r), 1) and carries no gradient', () => {
    const c = tf.tensor1d([-0.5, 0.4, -3]);
    const r = tf.tensor1d([-0.2, 0.3, -1]);
    const w = wpoWeights({ chosenLogWeights: c, rejectedLogWeights: r });
    expectClose(w, [Math.exp(-0.7), 1, Math.exp(-4)], { rtol: 1e-6 });
    const g = tf.grad((x: tf.Tensor) =>
      tf.sum(wpoWeights({ chosenLogWeights: x as tf.Tensor1D, rejectedLogWeights: r })),
    )(c);
    expectClose(g, [0, 0, 0]);
    tf.dispose([c, r, w, g]);
  });

  it('wpoLogWeights carries no gradient', () => {
    const c = fixture.cases[0] as LpCase;
    const { logits, labels, mask } = inputs(c);
    const g = tf.grad((x: tf.Tensor) => tf.sum(wpoLogWeights({ logits: x as tf.Tensor3D, labels, mask })))(
      logits,
    );
    expect(Array.from(g.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([logits, labels, mask, g]);
  });

  for (const c of fixture.ldDpo) {
    it(`ldDpoLogProbs matches PyTorch (alpha ${c.alpha})`, () => {
      const pc = tf.tensor2d(c.chosenPerToken, c.shape);
      const pr = tf.tensor2d(c.rejectedPerToken, c.shape);
      const mc = tf.tensor2d(c.chosenMask, c.shape);
      const mr = tf.tensor2d(c.rejectedMask, c.shape);
      const wc = tf.tensor1d(c.wc);
      const wr = tf.tensor1d(c.wr);
      const out = ldDpoLogProbs({
        chosen: { perToken: pc, mask: mc },
        rejected: { perToken: pr, mask: mr },
        alpha: c.alpha,
      });
      expectClose(out.chosen, c.expected.chosen, { ...TOL, label: 'chosen' });
      expectClose(out.rejected, c.expected.rejected, { ...TOL, label: 'rejected' });
      const [gc, gr] = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const o = ldDpoLogProbs({
          chosen: { perToken: a as tf.Tensor2D, mask: mc },
          rejected: { perToken: b as tf.Tensor2D, mask: mr },
          alpha: c.alpha,
        });
        return tf.add(tf.sum(tf.mul(wc, o.chosen)), tf.sum(tf.mul(wr, o.rejected)));
      })([pc, pr]);
      expectClose(gc as tf.Tensor, c.expected.gradChosen, { ...TOL, label: 'd/dchosen' });
      expectClose(gr as tf.Tensor, c.expected.gradRejected, { ...TOL, label: 'd/drejected' });
      tf.dispose([pc, pr, mc, mr, wc, wr, out.chosen, out.rejected, gc as tf.Tensor, gr as tf.Tensor]);
    });
  }

  it('nllLoss is the token-level mean NLL over the batch (TRL nll_loss)', () => {
    const sum = tf.tensor1d([-6, -2, 0]);
    const count = tf.tensor1d([3, 1, 0]);
    const nll = nllLoss({ sum, count });
    expectClose(nll, [8 / 4]);
    const g = tf.grad((x: tf.Tensor) => nllLoss({ sum: x as tf.Tensor1D, count }))(sum);
    expectClose(g, [-0.25, -0.25, -0.25]);
    tf.dispose([sum, count, nll, g]);
  });
});

describe('log-prob functions leak nothing', () => {
  it('forward + backward of every function', async () => {
    const c = fixture.cases[3] as LpCase;
    const { logits, labels, mask } = inputs(c);
    await expectNoLeak(() => {
      disposeOut(sequenceLogProbs({ logits, labels, mask }));
      disposeOut(causalLogProbs({ logits, inputIds: labels, lossMask: mask }));
      const g1 = tf.grad((x: tf.Tensor) => sequenceLogProbs({ logits: x as tf.Tensor3D, labels, mask }).mean)(
        logits,
      );
      const g2 = tf.grad(
        (x: tf.Tensor) => causalLogProbs({ logits: x as tf.Tensor3D, inputIds: labels, lossMask: mask }).sum,
      )(logits);
      const lw = wpoLogWeights({ logits, labels, mask });
      const lw2 = wpoLogWeights({ logits, inputIds: labels, lossMask: mask });
      const ww = wpoWeights({ chosenLogWeights: lw, rejectedLogWeights: lw2 });
      const zeros = tf.zeros(mask.shape) as tf.Tensor2D;
      const ld = ldDpoLogProbs({
        chosen: { perToken: zeros, mask },
        rejected: { perToken: zeros, mask },
        alpha: 0.5,
      });
      tf.dispose([g1, g2, lw, lw2, ww, zeros, ld.chosen, ld.rejected]);
    });
    tf.dispose([logits, labels, mask]);
  });
});

describe('log-prob functions reject bad input', () => {
  const logits = tf.zeros([2, 3, 5]) as tf.Tensor3D;
  const labels = tf.tensor2d([0, 1, 2, 3, 4, 0], [2, 3], 'int32');
  const mask = tf.ones([2, 3]) as tf.Tensor2D;

  it('shapes, dtypes, ranges, finiteness', () => {
    const bad = {
      rank2: tf.zeros([2, 3]),
      intLogits: tf.zeros([2, 3, 5], 'int32'),
      nanLogits: tf.fill([2, 3, 5], Number.NaN),
      floatLabels: tf.zeros([2, 3]),
      bigLabels: tf.tensor2d([0, 1, 2, 3, 5, 0], [2, 3], 'int32'),
      negLabels: tf.tensor2d([0, -100, 2, 3, 4, 0], [2, 3], 'int32'),
      shortLabels: tf.zeros([2, 2], 'int32'),
      mask2: tf.fill([2, 3], 2),
      maskShape: tf.ones([3, 3]),
      t1: tf.zeros([2, 1, 5]),
    };
    const S = 'sequenceLogProbs';
    const seq = (o: Record<string, unknown>) => () =>
      sequenceLogProbs({ logits, labels, mask, ...o } as Parameters<typeof sequenceLogProbs>[0]);
    expectGanpoError(seq({ logits: bad.rank2 }), 'SHAPE_MISMATCH', 'logits');
    expectGanpoError(seq({ logits: bad.intLogits }), 'INVALID_DTYPE', 'logits');
    expectGanpoError(seq({ logits: bad.nanLogits }), 'NON_FINITE', 'logits');
    expectGanpoError(seq({ labels: bad.floatLabels }), 'INVALID_DTYPE', 'labels');
    expectGanpoError(seq({ labels: bad.bigLabels }), 'OUT_OF_RANGE', 'labels');
    expectGanpoError(seq({ labels: bad.negLabels }), 'OUT_OF_RANGE', 'labels');
    expectGanpoError(seq({ labels: bad.shortLabels }), 'SHAPE_MISMATCH', 'labels');
    expectGanpoError(seq({ mask: bad.mask2 }), 'OUT_OF_RANGE', 'mask');
    const e = expectGanpoError(seq({ mask: bad.maskShape }), 'SHAPE_MISMATCH', 'mask');
    expect(e.message).toContain(S);
    const cau = (o: Record<string, unknown>) => () =>
      causalLogProbs({ logits, inputIds: labels, lossMask: mask, ...o } as Parameters<
        typeof causalLogProbs
      >[0]);
    expectGanpoError(cau({ inputIds: bad.bigLabels }), 'OUT_OF_RANGE', 'inputIds');
    expectGanpoError(cau({ lossMask: bad.mask2 }), 'OUT_OF_RANGE', 'lossMask');
    expectGanpoError(
      cau({ logits: bad.t1, inputIds: tf.zeros([2, 1], 'int32') }),
      'SHAPE_MISMATCH',
      'logits',
    );
    expectGanpoError(
      () => wpoLogWeights({ logits, labels: bad.bigLabels, mask } as never),
      'OUT_OF_RANGE',
      'labels',
    );
    expectGanpoError(
      () =>
        ldDpoLogProbs({
          chosen: { perToken: bad.rank2 as tf.Tensor2D, mask },
          rejected: { perToken: bad.rank2 as tf.Tensor2D, mask },
          alpha: 2,
        }),
      'OUT_OF_RANGE',
      'alpha',
    );
    expectGanpoError(
      () =>
        ldDpoLogProbs({
          chosen: { perToken: bad.rank2 as tf.Tensor2D, mask: bad.mask2 as tf.Tensor2D },
          rejected: { perToken: bad.rank2 as tf.Tensor2D, mask },
          alpha: 0.5,
        }),
      'OUT_OF_RANGE',
      'chosen.mask',
    );
    const nan1 = tf.tensor1d([Number.NaN]);
    expectGanpoError(
      () => wpoWeights({ chosenLogWeights: nan1, rejectedLogWeights: nan1 }),
      'NON_FINITE',
      'chosenLogWeights',
    );
    tf.dispose([...Object.values(bad), nan1]);
  });
});
