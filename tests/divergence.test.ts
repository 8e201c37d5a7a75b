import * as tf from '@tensorflow/tfjs-core';
import {
  type GanLoss,
  pairedFeatureMatchingLoss,
  relativisticDiscriminatorLoss,
  relativisticGeneratorLoss,
  withValidationLevel,
} from 'ganpo';
import { describe, expect, it } from 'vitest';

import { ganpoDiscriminatorLoss, ganpoGeneratorLoss } from '../src/divergence/ganpo-relativistic';
import { pairedLeastSquaresGeneratorLoss } from '../src/divergence/paired-generator';
import { relativisticAverageDivergence } from '../src/divergence/relativistic';
import { expectClose, expectGanpoError, expectNoLeak, loadFixture } from './support/helpers';

interface RelCase {
  divergence: GanLoss;
  real: number[];
  fake: number[];
  realMean: number | null;
  fakeMean: number | null;
  d: number;
  dGradReal: number[];
  dGradFake: number[];
  g: number;
  gGradReal: number[];
  gGradFake: number[];
  divergenceEstimate: number;
}
interface QuadCase {
  divergence: GanLoss;
  reference: number[];
  policy: number[];
  opposite: number[];
  means: { reference?: number; policy?: number; opposite?: number };
  loss: number;
  gradReference: number[];
  gradPolicy: number[];
  gradOpposite: number[];
}
interface GenCase {
  divergence: GanLoss;
  policy: number[];
  referenceMean: number;
  loss: number;
  gradPolicy: number[];
}
interface Fixture {
  check: Record<GanLoss, { d: number; g: number }>;
  relativistic: RelCase[];
  ganpo_d: QuadCase[];
  ganpo_g: GenCase[];
  ganpo_paired_g: { policy: number[]; reference: number[]; loss: number; gradPolicy: number[] }[];
  ganpo_paired_fm: { policy: number[][]; reference: number[][]; loss: number; gradPolicy: number[][] }[];
  ganpo_relative_fm: { policy: number[][]; reference: number[][]; loss: number; gradPolicy: number[][] }[];
}

const fx = loadFixture<Fixture>('divergence.json');
// float32 inputs against float64 golden values: ~1e-7 relative rounding per op, a handful of ops.
const TOL = { rtol: 1e-5, atol: 1e-6 };
const DIVS: GanLoss[] = ['sgan', 'lsgan', 'hinge'];

describe('relativistic losses', () => {
  it.each(DIVS)('match the PyTorch check values (%s)', (ganLoss) => {
    const real = tf.tensor1d([1, 2, -0.5]);
    const fake = tf.tensor1d([0, -1, 0.5]);
    const d = relativisticDiscriminatorLoss({ real, fake, ganLoss });
    const g = relativisticGeneratorLoss({ real, fake, ganLoss });
    expectClose(d, fx.check[ganLoss].d, TOL);
    expectClose(g, fx.check[ganLoss].g, TOL);
    expect(d.shape).toEqual([]);
    tf.dispose([real, fake, d, g]);
  });

  it('hard-coded check values (independent of the fixture)', () => {
    const real = tf.tensor1d([1, 2, -0.5]);
    const fake = tf.tensor1d([0, -1, 0.5]);
    const got = DIVS.map((ganLoss) => [
      relativisticDiscriminatorLoss({ real, fake, ganLoss }),
      relativisticGeneratorLoss({ real, fake, ganLoss }),
    ]);
    expectClose(
      got.flat().map((t) => t.dataSync()[0] as number),
      [0.383784, 1.383784, 0.722222, 4.722222, 0.361111, 2.0],
      {
        atol: 2e-6,
        rtol: 0,
      },
    );
    tf.dispose([real, fake, ...got.flat()]);
  });

  it.each(fx.relativistic.map((c, i) => [`${c.divergence} #${i}`, c] as const))(
    'values and gradients match PyTorch (%s)',
    (_, c) => {
      const real = tf.tensor1d(c.real);
      const fake = tf.tensor1d(c.fake);
      const means = {
        realMean: c.realMean ?? undefined,
        fakeMean: c.fakeMean ?? undefined,
        ganLoss: c.divergence,
      };
      const dFn = (r: tf.Tensor, f: tf.Tensor) =>
        relativisticDiscriminatorLoss({ real: r as tf.Tensor1D, fake: f as tf.Tensor1D, ...means });
      const gFn = (r: tf.Tensor, f: tf.Tensor) =>
        relativisticGeneratorLoss({ real: r as tf.Tensor1D, fake: f as tf.Tensor1D, ...means });
      const d = tf.valueAndGrads(dFn)([real, fake]);
      const g = tf.valueAndGrads(gFn)([real, fake]);
      const est = relativisticAverageDivergence({ real, fake, ...means });
      expectClose(d.value, c.d, TOL);
      expectClose(d.grads[0] as tf.Tensor, c.dGradReal, { ...TOL, label: 'dL_D/dreal' });
      expectClose(d.grads[1] as tf.Tensor, c.dGradFake, { ...TOL, label: 'dL_D/dfake' });
      expectClose(g.value, c.g, TOL);
      expectClose(g.grads[0] as tf.Tensor, c.gGradReal, { ...TOL, label: 'dL_G/dreal' });
      expectClose(g.grads[1] as tf.Tensor, c.gGradFake, { ...TOL, label: 'dL_G/dfake' });
      expectClose(est, c.divergenceEstimate, TOL);
      tf.dispose([real, fake, d.value, ...d.grads, g.value, ...g.grads, est]);
    },
  );

  it('given scalar-tensor means are constants: no gradient flows into them', () => {
    const real = tf.tensor1d([1, 2, -0.5]);
    const fake = tf.tensor1d([0, -1, 0.5]);
    const m = tf.scalar(0.25);
    const [gm] = tf.grads((mm: tf.Tensor) =>
      relativisticDiscriminatorLoss({ real, fake, realMean: mm as tf.Scalar, fakeMean: mm as tf.Scalar }),
    )([m]);
    expectClose(gm as tf.Tensor, [0]);
    // Same value as passing the number.
    const a = relativisticGeneratorLoss({ real, fake, realMean: m, fakeMean: m, ganLoss: 'lsgan' });
    const b = relativisticGeneratorLoss({ real, fake, realMean: 0.25, fakeMean: 0.25, ganLoss: 'lsgan' });
    expectClose(a, b.dataSync()[0] as number, { rtol: 0, atol: 0 });
    tf.dispose([real, fake, m, gm as tf.Tensor, a, b]);
  });

  it.each(DIVS)('divergence estimate is 0 when the critic cannot tell the sets apart (%s)', (ganLoss) => {
    // A constant critic: every relativistic logit is 0.
    const real = tf.fill([6], 0.7) as tf.Tensor1D;
    const fake = tf.fill([3], 0.7) as tf.Tensor1D;
    const est = relativisticAverageDivergence({ real, fake, ganLoss });
    expectClose(est, 0, { atol: 1e-6 });
    // And positive when it separates them (relativistic logits ±1: the lsgan and hinge optimum,
    // 2·(log 2 − softplus(−1)) ≈ 0.76 for sgan).
    const far = tf.tensor1d([0.5, 0.5, 0.5]);
    const near = tf.tensor1d([-0.5, -0.5]);
    const sep = relativisticAverageDivergence({ real: far, fake: near, ganLoss });
    expect(sep.dataSync()[0]).toBeGreaterThan(0.75);
    tf.dispose([real, fake, est, far, near, sep]);
  });

  it('leaks nothing, with and without gradients', async () => {
    const real = tf.tensor1d([1, 2, -0.5]);
    const fake = tf.tensor1d([0, -1, 0.5]);
    const m = tf.scalar(0.1);
    await expectNoLeak(() => {
      for (const ganLoss of DIVS) {
        const outs = [
          relativisticDiscriminatorLoss({ real, fake, ganLoss }),
          relativisticGeneratorLoss({ real, fake, realMean: m, fakeMean: 0.2, ganLoss }),
          relativisticAverageDivergence({ real, fake, ganLoss }),
        ];
        const gr = tf.grads((r: tf.Tensor, f: tf.Tensor) =>
          relativisticGeneratorLoss({ real: r as tf.Tensor1D, fake: f as tf.Tensor1D, ganLoss }),
        )([real, fake]);
        tf.dispose([...outs, ...gr]);
      }
    });
    tf.dispose([real, fake, m]);
  });

  it('rejects bad inputs with the argument named', () => {
    const ok = tf.tensor1d([1, 2]);
    const r2 = tf.zeros([2, 1]);
    const nan = tf.tensor1d([1, Number.NaN]);
    const empty = tf.tensor1d([]);
    const ints = tf.tensor1d([1, 2], 'int32');
    const vec = tf.tensor1d([0.1, 0.2]);
    const W = relativisticDiscriminatorLoss;
    expectGanpoError(() => W({ real: r2 as unknown as tf.Tensor1D, fake: ok }), 'SHAPE_MISMATCH', 'real');
    expectGanpoError(() => W({ real: ok, fake: nan }), 'NON_FINITE', 'fake');
    expectGanpoError(() => W({ real: empty, fake: ok }), 'SHAPE_MISMATCH', 'real');
    expectGanpoError(() => W({ real: ok, fake: ints }), 'INVALID_DTYPE', 'fake');
    expectGanpoError(() => W({ real: ok, fake: ok, realMean: Number.NaN }), 'NON_FINITE', 'realMean');
    expectGanpoError(
      () => W({ real: ok, fake: ok, fakeMean: vec as unknown as tf.Scalar }),
      'SHAPE_MISMATCH',
      'fakeMean',
    );
    expectGanpoError(
      () => W({ real: ok, fake: ok, ganLoss: 'wgan' as GanLoss }),
      'INVALID_OPTION',
      'ganLoss',
    );
    expectGanpoError(
      () => relativisticGeneratorLoss({ real: undefined as unknown as tf.Tensor1D, fake: ok }),
      'INVALID_ARGUMENT',
      'real',
    );
    expectGanpoError(() => relativisticAverageDivergence({ real: ok, fake: nan }), 'NON_FINITE', 'fake');
    // Value checks are skipped at level 'shapes' (no read-back), shape checks are not.
    withValidationLevel('shapes', () => {
      const v = W({ real: ok, fake: nan });
      v.dispose();
      expectGanpoError(() => W({ real: r2 as unknown as tf.Tensor1D, fake: ok }), 'SHAPE_MISMATCH', 'real');
    });
    tf.dispose([ok, r2, nan, empty, ints, vec]);
  });
});

describe('GANPO quad losses', () => {
  it.each(fx.ganpo_d.map((c, i) => [`${c.divergence} #${i}`, c] as const))(
    'ganpoDiscriminatorLoss values and gradients match PyTorch (%s)',
    (_, c) => {
      const xs = [tf.tensor1d(c.reference), tf.tensor1d(c.policy), tf.tensor1d(c.opposite)];
      const { value, grads } = tf.valueAndGrads((r: tf.Tensor, p: tf.Tensor, o: tf.Tensor) =>
        ganpoDiscriminatorLoss({
          reference: r as tf.Tensor1D,
          policy: p as tf.Tensor1D,
          opposite: o as tf.Tensor1D,
          means: c.means,
          ganLoss: c.divergence,
        }),
      )(xs);
      expectClose(value, c.loss, TOL);
      expectClose(grads[0] as tf.Tensor, c.gradReference, { ...TOL, label: 'dref' });
      expectClose(grads[1] as tf.Tensor, c.gradPolicy, { ...TOL, label: 'dpolicy' });
      expectClose(grads[2] as tf.Tensor, c.gradOpposite, { ...TOL, label: 'dopposite' });
      tf.dispose([...xs, value, ...grads]);
    },
  );

  it.each(fx.ganpo_g.map((c) => [c.divergence, c] as const))(
    'ganpoGeneratorLoss value and gradient match PyTorch (%s)',
    (_, c) => {
      const p = tf.tensor1d(c.policy);
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
        ganpoGeneratorLoss({
          policy: x as tf.Tensor1D,
          referenceMean: c.referenceMean,
          ganLoss: c.divergence,
        }),
      )(p);
      expectClose(value, c.loss, TOL);
      expectClose(grad, c.gradPolicy, TOL);
      // A scalar-tensor mean gives the same value and receives no gradient.
      const m = tf.scalar(c.referenceMean);
      const [gp, gm] = tf.grads((x: tf.Tensor, mm: tf.Tensor) =>
        ganpoGeneratorLoss({
          policy: x as tf.Tensor1D,
          referenceMean: mm as tf.Scalar,
          ganLoss: c.divergence,
        }),
      )([p, m]);
      expectClose(gp as tf.Tensor, c.gradPolicy, TOL);
      expectClose(gm as tf.Tensor, [0]);
      tf.dispose([p, value, grad, m, gp as tf.Tensor, gm as tf.Tensor]);
    },
  );

  it.each(fx.ganpo_d.map((c, i) => [`${c.divergence} #${i}`, c] as const))(
    'the quad loss is the mean of two public relativisticDiscriminatorLoss calls (docs/math.md) (%s)',
    (_, c) => {
      const xs = [tf.tensor1d(c.reference), tf.tensor1d(c.policy), tf.tensor1d(c.opposite)];
      // One RaGAN term per ordering: reference > policy, then policy > opposite.
      type Set = 'reference' | 'policy' | 'opposite';
      const term = (scores: Record<Set, tf.Tensor>, real: Set, fake: Set) =>
        relativisticDiscriminatorLoss({
          real: scores[real] as tf.Tensor1D,
          fake: scores[fake] as tf.Tensor1D,
          realMean: c.means[real],
          fakeMean: c.means[fake],
          ganLoss: c.divergence,
        });
      const { value, grads } = tf.valueAndGrads(
        (reference: tf.Tensor, policy: tf.Tensor, opposite: tf.Tensor) => {
          const scores = { reference, policy, opposite };
          const sum = tf.add(term(scores, 'reference', 'policy'), term(scores, 'policy', 'opposite'));
          return tf.mul(sum, 0.5) as tf.Scalar;
        },
      )(xs);
      expectClose(value, c.loss, TOL);
      expectClose(grads[0] as tf.Tensor, c.gradReference, { ...TOL, label: 'dref' });
      expectClose(grads[1] as tf.Tensor, c.gradPolicy, { ...TOL, label: 'dpolicy' });
      expectClose(grads[2] as tf.Tensor, c.gradOpposite, { ...TOL, label: 'dopposite' });
      tf.dispose([...xs, value, ...grads]);
    },
  );

  it('the quad loss with sgan equals the official four BCE-with-logits terms (hand check)', () => {
    // reference = [2], policy = [0], opposite = [-2], means = the values themselves:
    // ¼[sp(−2) + sp(−2) + sp(−2) + sp(−2)] = softplus(−2).
    const one = (v: number) => tf.tensor1d([v]);
    const [r, p, o] = [one(2), one(0), one(-2)];
    const v = ganpoDiscriminatorLoss({ reference: r, policy: p, opposite: o });
    expectClose(v, Math.log1p(Math.exp(-2)), { rtol: 1e-6 });
    tf.dispose([r, p, o, v]);
  });

  it('leaks nothing and rejects bad inputs', async () => {
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.tensor1d([0, 1, 0]);
    const c = tf.tensor1d([-1, 0, -2]);
    await expectNoLeak(() => {
      const g = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        ganpoDiscriminatorLoss({
          reference: x as tf.Tensor1D,
          policy: y as tf.Tensor1D,
          opposite: z as tf.Tensor1D,
          means: { reference: 1 },
          ganLoss: 'hinge',
        }),
      )([a, b, c]);
      const v = ganpoGeneratorLoss({ policy: b, referenceMean: 0.5 });
      tf.dispose([...g, v]);
    });
    const nan = tf.tensor1d([Number.NaN]);
    const r2 = tf.zeros([3, 2]);
    expectGanpoError(
      () => ganpoDiscriminatorLoss({ reference: a, policy: b, opposite: nan }),
      'NON_FINITE',
      'opposite',
    );
    expectGanpoError(
      () => ganpoDiscriminatorLoss({ reference: r2 as unknown as tf.Tensor1D, policy: b, opposite: c }),
      'SHAPE_MISMATCH',
      'reference',
    );
    expectGanpoError(
      () =>
        ganpoDiscriminatorLoss({
          reference: a,
          policy: b,
          opposite: c,
          means: { policy: Number.POSITIVE_INFINITY },
        }),
      'NON_FINITE',
      'means.policy',
    );
    expectGanpoError(
      () => ganpoGeneratorLoss({ policy: b, referenceMean: undefined as unknown as number }),
      'INVALID_ARGUMENT',
      'referenceMean',
    );
    expectGanpoError(
      () => ganpoGeneratorLoss({ policy: b, referenceMean: 0, ganLoss: 'x' as GanLoss }),
      'INVALID_OPTION',
      'ganLoss',
    );
    tf.dispose([a, b, c, nan, r2]);
  });
});

describe('paired least-squares generator loss', () => {
  it.each(fx.ganpo_paired_g.map((c, i) => [i, c] as const))(
    'value and gradients match PyTorch; the reference scores get no gradient (#%s)',
    (_, c) => {
      const p = tf.tensor1d(c.policy);
      const r = tf.tensor1d(c.reference);
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor) =>
        pairedLeastSquaresGeneratorLoss({ policy: x as tf.Tensor1D, reference: y as tf.Tensor1D }),
      )([p, r]);
      expectClose(value, c.loss, TOL);
      expectClose(grads[0] as tf.Tensor, c.gradPolicy, TOL);
      expectClose(grads[1] as tf.Tensor, [0, 0, 0, 0, 0]);
      tf.dispose([p, r, value, ...grads]);
    },
  );

  it('hand check: 0 with zero gradient when the policy scores equal the reference scores', () => {
    const s = tf.tensor1d([0.5, -1, 2]);
    const t = tf.tensor1d([1.5, -1, 2]);
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
      pairedLeastSquaresGeneratorLoss({ policy: x as tf.Tensor1D, reference: s }),
    )(s);
    expectClose(value, 0);
    expectClose(grad, [0, 0, 0]);
    // (1.5 − 0.5)² / 3: only the first pair differs.
    const v = pairedLeastSquaresGeneratorLoss({ policy: t, reference: s });
    expectClose(v, 1 / 3, { rtol: 1e-6 });
    tf.dispose([s, t, value, grad, v]);
  });

  it('leaks nothing and rejects bad inputs', async () => {
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.tensor1d([0, 1, 0]);
    await expectNoLeak(() => {
      const g = tf.grads((x: tf.Tensor) =>
        pairedLeastSquaresGeneratorLoss({ policy: x as tf.Tensor1D, reference: b }),
      )([a]);
      tf.dispose(g);
    });
    const short = tf.tensor1d([1, 2]);
    const nan = tf.tensor1d([0, Number.NaN, 1]);
    expectGanpoError(
      () => pairedLeastSquaresGeneratorLoss({ policy: a, reference: short }),
      'SHAPE_MISMATCH',
      'reference',
    );
    expectGanpoError(
      () => pairedLeastSquaresGeneratorLoss({ policy: a, reference: nan }),
      'NON_FINITE',
      'reference',
    );
    expectGanpoError(() => pairedLeastSquaresGeneratorLoss(null as never), 'INVALID_ARGUMENT', 'args');
    tf.dispose([a, b, short, nan]);
  });
});

describe('paired feature-matching loss', () => {
  it.each(fx.ganpo_paired_fm.map((c, i) => [i, c] as const))(
    'value and gradients match PyTorch; the reference features get no gradient (#%s)',
    (_, c) => {
      const p = tf.tensor2d(c.policy);
      const r = tf.tensor2d(c.reference);
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor) =>
        pairedFeatureMatchingLoss({ policy: x as tf.Tensor2D, reference: y as tf.Tensor2D }),
      )([p, r]);
      expectClose(value, c.loss, TOL);
      expectClose(grads[0] as tf.Tensor, c.gradPolicy.flat(), TOL);
      expect(tf.sum(tf.abs(grads[1] as tf.Tensor)).dataSync()[0]).toBe(0);
      tf.dispose([p, r, value, ...grads]);
    },
  );

  it.each(fx.ganpo_relative_fm.map((c, i) => [i, c] as const))(
    'relative: value and gradients match PyTorch (scale 1, 1000, zero reference); no gradient to the reference (#%s)',
    (_, c) => {
      const p = tf.tensor2d(c.policy);
      const r = tf.tensor2d(c.reference);
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor) =>
        pairedFeatureMatchingLoss({ policy: x as tf.Tensor2D, reference: y as tf.Tensor2D, relative: true }),
      )([p, r]);
      expectClose(value, c.loss, { rtol: 1e-5, atol: 1e-6 });
      expectClose(grads[0] as tf.Tensor, c.gradPolicy.flat(), { rtol: 1e-4, atol: 1e-6 });
      expect(tf.sum(tf.abs(grads[1] as tf.Tensor)).dataSync()[0]).toBe(0);
      tf.dispose([p, r, value, ...grads]);
    },
  );

  it('relative: the same value at any feature scale, 0 at equal features; refuses a non-boolean', () => {
    const c0 = fx.ganpo_relative_fm[0] as (typeof fx.ganpo_relative_fm)[0];
    const a = tf.tensor2d(c0.policy);
    const b = tf.tensor2d(c0.reference);
    const big = pairedFeatureMatchingLoss({
      policy: tf.mul(a, 1000) as tf.Tensor2D,
      reference: tf.mul(b, 1000) as tf.Tensor2D,
      relative: true,
    });
    expectClose(big, c0.loss, { rtol: 1e-5 });
    const z = pairedFeatureMatchingLoss({ policy: b, reference: b, relative: true });
    expect(z.dataSync()[0]).toBe(0);
    expectGanpoError(
      () => pairedFeatureMatchingLoss({ policy: a, reference: b, relative: 1 as unknown as boolean }),
      'INVALID_OPTION',
      'relative',
    );
    tf.dispose([a, b, big, z]);
  });

  it('hand check: mean over rows of the squared distance; 0 at equal features', () => {
    const a = tf.tensor2d([
      [1, 2],
      [0, 0],
    ]);
    const b = tf.tensor2d([
      [1, 0],
      [3, 4],
    ]);
    // rows: (0² + 2²) = 4 and (3² + 4²) = 25 → mean 14.5
    const v = pairedFeatureMatchingLoss({ policy: a, reference: b });
    expectClose(v, 14.5, { rtol: 1e-6 });
    const z = pairedFeatureMatchingLoss({ policy: a, reference: a });
    expectClose(z, 0);
    tf.dispose([a, b, v, z]);
  });

  it('leaks nothing and rejects bad inputs', async () => {
    const a = tf.tensor2d([[1, 2, 3]]);
    const b = tf.tensor2d([[0, 1, 0]]);
    await expectNoLeak(() => {
      const g = tf.grads((x: tf.Tensor) =>
        pairedFeatureMatchingLoss({ policy: x as tf.Tensor2D, reference: b }),
      )([a]);
      tf.dispose(g);
    });
    const wide = tf.tensor2d([[1, 2, 3, 4]]);
    const vec = tf.tensor1d([1, 2, 3]);
    expectGanpoError(
      () => pairedFeatureMatchingLoss({ policy: a, reference: wide }),
      'SHAPE_MISMATCH',
      'reference',
    );
    expectGanpoError(
      () => pairedFeatureMatchingLoss({ policy: vec as unknown as tf.Tensor2D, reference: b }),
      'SHAPE_MISMATCH',
      'policy',
    );
    tf.dispose([a, b, wide, vec]);
  });
});

describe('the GAN loss option', () => {
  it("is refused under an unknown value, and the former spelling 'divergence' is gone from the types", () => {
    const ok = tf.tensor1d([1, 2]);
    expectGanpoError(
      () => ganpoDiscriminatorLoss({ reference: ok, policy: ok, opposite: ok, ganLoss: 'wgan' as GanLoss }),
      'INVALID_OPTION',
      'ganLoss',
    );
    // @ts-expect-error the deprecated alias was removed in API 1.0
    relativisticDiscriminatorLoss({ real: ok, fake: ok, divergence: 'lsgan' }).dispose();
    ok.dispose();
  });
});
