// Direct tests of the `ganpo/ops` kernels and the tape helpers against hand-derived values: the
// expected forwards and gradients are computed here in float64 plain JavaScript (closed forms, or
// central differences of the float64 reference), never by the code under test.
import * as tf from '@tensorflow/tfjs-core';
import { fastLinear, geluErf, layerNorm } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';
import { withConstantInputs } from '../src/ops/fast-linear';

import { connectedZero, outsideTape } from '../src/ops/tape';
import { expectClose, expectGanpoError, expectNoLeak } from './support/helpers';

const X = [
  [0.5, -1.0, 2.0, 0.25],
  [-0.75, 0.3, 0.1, -2.0],
  [1.5, 0.0, -0.4, 0.8],
];
const K = [
  [0.2, -0.5],
  [1.0, 0.3],
  [-0.7, 0.9],
  [0.4, 0.05],
];
const B = [0.1, -0.2];
// Upstream gradient dy (the loss is Σ y ⊙ W, so ∂loss/∂y = W).
const W = [
  [1.0, -2.0],
  [0.5, 0.25],
  [-1.5, 3.0],
];

const matmul = (a: number[][], b: number[][]): number[][] =>
  a.map((row) =>
    (b[0] as number[]).map((_, j) => row.reduce((s, v, k) => s + v * ((b[k] as number[])[j] as number), 0)),
  );
const transpose = (a: number[][]): number[][] =>
  (a[0] as number[]).map((_, j) => a.map((row) => row[j] as number));

describe('fastLinear', () => {
  it.each([true, false])(
    'y = x·K + b and its gradients dx = dy·Kᵀ, dK = xᵀ·dy, db = Σ dy (bias %s)',
    (withBias) => {
      const x = tf.tensor2d(X);
      const k = tf.tensor2d(K);
      const b = tf.tensor1d(B);
      const w = tf.tensor2d(W);
      const expectedY = matmul(X, K).map((row) => row.map((v, j) => v + (withBias ? (B[j] as number) : 0)));
      const y = fastLinear(x, k, withBias ? b : undefined);
      expectClose(y, expectedY, { rtol: 1e-6, atol: 1e-6, label: 'y' });
      // Without a bias only x and K are inputs (tf.grads refuses an input the result does not use).
      const grads = withBias
        ? tf.grads((xx, kk, bb) =>
            tf.sum(tf.mul(fastLinear(xx as tf.Tensor2D, kk as tf.Tensor2D, bb as tf.Tensor1D), w)),
          )([x, k, b])
        : tf.grads((xx, kk) => tf.sum(tf.mul(fastLinear(xx as tf.Tensor2D, kk as tf.Tensor2D), w)))([x, k]);
      expectClose(grads[0] as tf.Tensor, matmul(W, transpose(K)), { rtol: 1e-6, atol: 1e-6, label: 'dx' });
      expectClose(grads[1] as tf.Tensor, matmul(transpose(X), W), { rtol: 1e-6, atol: 1e-6, label: 'dK' });
      const db = [0, 1].map((j) => W.reduce((s, row) => s + (row[j] as number), 0));
      if (withBias) expectClose(grads[2] as tf.Tensor, db, { rtol: 1e-6, atol: 1e-6, label: 'db' });
      tf.dispose([x, k, b, w, y, ...grads]);
    },
  );

  it("refuses a kernel in PyTorch's [out, in] layout, naming it, and mis-shaped inputs", () => {
    const x = tf.tensor2d(X); // [3, 4]
    const pytorch = tf.tensor2d(transpose(K)); // [2, 4]: an nn.Linear weight
    const e = expectGanpoError(() => fastLinear(x, pytorch), 'SHAPE_MISMATCH', 'kernel');
    expect(e.received).toContain("PyTorch's nn.Linear layout [out, in]");
    const k = tf.tensor2d(K);
    const wrong = tf.tensor2d([[1, 2, 3]]);
    expect(expectGanpoError(() => fastLinear(x, wrong), 'SHAPE_MISMATCH', 'kernel').received).not.toContain(
      'PyTorch',
    );
    const b3 = tf.tensor1d([1, 2, 3]);
    expectGanpoError(() => fastLinear(x, k, b3), 'SHAPE_MISMATCH', 'bias');
    const x1 = tf.zeros([4]);
    expectGanpoError(() => fastLinear(x1, k), 'SHAPE_MISMATCH', 'x');
    tf.dispose([x, pytorch, k, wrong, b3, x1]);
  });

  it('leaks nothing', async () => {
    const x = tf.tensor2d(X);
    const k = tf.tensor2d(K);
    const b = tf.tensor1d(B);
    await expectNoLeak(() => {
      const g = tf.grads((xx, kk, bb) =>
        tf.sum(fastLinear(xx as tf.Tensor2D, kk as tf.Tensor2D, bb as tf.Tensor1D)),
      )([x, k, b]);
      tf.dispose(g);
    });
    tf.dispose([x, k, b]);
  });
});

describe('fastLinear with constant input data (withConstantInputs)', () => {
  it.each([true, false])('gives y, dK and db as before and no gradient path to x (bias %s)', (withBias) => {
    const x = tf.tensor2d(X);
    const k = tf.variable(tf.tensor2d(K));
    const b = tf.variable(tf.tensor1d(B));
    const w = tf.tensor2d(W);
    const loss = (): tf.Scalar =>
      tf.sum(tf.mul(fastLinear(x, k, withBias ? b : undefined, true), w)) as tf.Scalar;
    const vars = withBias ? [k, b] : [k];
    const { value, grads } = withConstantInputs(() => tf.variableGrads(loss, vars));
    const expectedY = matmul(X, K).map((row) => row.map((v, j) => v + (withBias ? (B[j] as number) : 0)));
    const expectedLoss = expectedY.reduce(
      (s, row, i) => s + row.reduce((t, v, j) => t + v * ((W[i] as number[])[j] as number), 0),
      0,
    );
    expectClose(value, [expectedLoss], { rtol: 1e-6, atol: 1e-6, label: 'loss' });
    expectClose(grads[k.name] as tf.Tensor, matmul(transpose(X), W), { rtol: 1e-6, atol: 1e-6, label: 'dK' });
    const db = [0, 1].map((j) => W.reduce((s, row) => s + (row[j] as number), 0));
    if (withBias) expectClose(grads[b.name] as tf.Tensor, db, { rtol: 1e-6, atol: 1e-6, label: 'db' });
    // x is a constant inside the scope (tfjs refuses a gradient with respect to it, loudly), while
    // outside the scope the same call differentiates it.
    const dx = (xx: tf.Tensor): tf.Scalar => tf.sum(tf.mul(fastLinear(xx as tf.Tensor2D, k, b, true), w));
    expect(() => withConstantInputs(() => tf.grad(dx)(x))).toThrow('Cannot compute gradient');
    const outside = tf.grad(dx)(x);
    expectClose(outside, matmul(W, transpose(K)), { rtol: 1e-6, atol: 1e-6, label: 'dx outside' });
    tf.dispose([x, k, b, w, value, outside, ...Object.values(grads)]);
  });

  it('leaks nothing', async () => {
    const x = tf.tensor2d(X);
    const k = tf.variable(tf.tensor2d(K));
    const b = tf.variable(tf.tensor1d(B));
    await expectNoLeak(() => {
      const { value, grads } = withConstantInputs(() =>
        tf.variableGrads(() => tf.sum(fastLinear(x, k, b, true)) as tf.Scalar, [k, b]),
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose([x, k, b]);
  });
});

/** torch.nn.LayerNorm over the last axis in float64: (x − μ)/√(σ² + ε)·γ + β, σ² biased. */
function layerNormReference(x: number[][], gamma: number[], beta: number[], eps: number): number[][] {
  return x.map((row) => {
    const mu = row.reduce((s, v) => s + v, 0) / row.length;
    const variance = row.reduce((s, v) => s + (v - mu) ** 2, 0) / row.length;
    return row.map(
      (v, j) => ((v - mu) / Math.sqrt(variance + eps)) * (gamma[j] as number) + (beta[j] as number),
    );
  });
}

/** Central differences of f at every entry of a nested array (float64, step h). */
function numericGradient(f: (a: number[][]) => number, a: number[][], h = 1e-6): number[][] {
  return a.map((row, i) =>
    row.map((_, j) => {
      const plus = a.map((r) => [...r]);
      const minus = a.map((r) => [...r]);
      const plusRow = plus[i] as number[];
      plusRow[j] = (plusRow[j] as number) + h;
      const minusRow = minus[i] as number[];
      minusRow[j] = (minusRow[j] as number) - h;
      return (f(plus) - f(minus)) / (2 * h);
    }),
  );
}

describe('layerNorm', () => {
  const gamma = [1.5, -0.5, 2.0, 0.75];
  const beta = [0.1, 0.2, -0.3, 0.0];
  const eps = 1e-5;
  const loss = (x: number[][], g = gamma, b = beta): number =>
    layerNormReference(x, g, b, eps).reduce(
      (s, row, i) => s + row.reduce((t, v, j) => t + v * (i + 1) * (j % 2 === 0 ? 1 : -0.5), 0),
      0,
    );
  const upstream = X.map((row, i) => row.map((_, j) => (i + 1) * (j % 2 === 0 ? 1 : -0.5)));

  it('matches torch.nn.LayerNorm(eps=1e-5) forward and its gradients w.r.t. x, γ, β', () => {
    const x = tf.tensor2d(X);
    const g = tf.tensor1d(gamma);
    const b = tf.tensor1d(beta);
    const dy = tf.tensor2d(upstream);
    const y = layerNorm(x, g, b, eps);
    expectClose(y, layerNormReference(X, gamma, beta, eps), { rtol: 1e-5, atol: 1e-5, label: 'y' });
    const grads = tf.grads((xx, gg, bb) =>
      tf.sum(tf.mul(layerNorm(xx as tf.Tensor2D, gg as tf.Tensor1D, bb as tf.Tensor1D, eps), dy)),
    )([x, g, b]);
    expectClose(
      grads[0] as tf.Tensor,
      numericGradient((a) => loss(a), X),
      { rtol: 1e-3, atol: 1e-4, label: 'dx' },
    );
    const dGamma = numericGradient((a) => loss(X, a[0] as number[]), [gamma])[0] as number[];
    const dBeta = numericGradient((a) => loss(X, gamma, a[0] as number[]), [beta])[0] as number[];
    expectClose(grads[1] as tf.Tensor, dGamma, { rtol: 1e-3, atol: 1e-4, label: 'dγ' });
    expectClose(grads[2] as tf.Tensor, dBeta, { rtol: 1e-3, atol: 1e-4, label: 'dβ' });
    tf.dispose([x, g, b, dy, y, ...grads]);
  });

  it('a constant row normalises to β (zero variance, ε keeps it finite)', () => {
    const x = tf.tensor2d([[3, 3, 3, 3]]);
    const y = layerNorm(x, tf.tensor1d(gamma), tf.tensor1d(beta), eps);
    expectClose(y, [beta], { atol: 1e-6 });
    tf.dispose([x, y]);
  });
});

describe('geluErf', () => {
  // Φ and φ of the standard normal at 0, ±1, 2 (tables): gelu(x) = x·Φ(x), gelu'(x) = Φ(x) + x·φ(x).
  const PHI: Record<number, number> = {
    [-1]: 0.15865525393145707,
    0: 0.5,
    1: 0.8413447460685429,
    2: 0.9772498680518208,
  };
  const pdf: Record<number, number> = {
    [-1]: 0.24197072451914337,
    0: 0.3989422804014327,
    1: 0.24197072451914337,
    2: 0.05399096651318806,
  };
  const points = [-1, 0, 1, 2];

  it('is x·Φ(x) with derivative Φ(x) + x·φ(x) (PyTorch nn.GELU(), exact)', () => {
    const x = tf.tensor1d(points);
    const y = geluErf(x);
    expectClose(
      y,
      points.map((p) => p * (PHI[p] as number)),
      { rtol: 1e-5, atol: 1e-6, label: 'gelu' },
    );
    const dx = tf.grad((xx) => tf.sum(geluErf(xx)))(x);
    expectClose(
      dx,
      points.map((p) => (PHI[p] as number) + p * (pdf[p] as number)),
      { rtol: 1e-5, atol: 1e-6, label: "gelu'" },
    );
    tf.dispose([x, y, dx]);
  });

  it('keeps the shape of any-rank input', () => {
    const x = tf.zeros([2, 3, 4]);
    const y = geluErf(x);
    expect(y.shape).toEqual([2, 3, 4]);
    tf.dispose([x, y]);
  });
});

describe('tape helpers', () => {
  it('outsideTape: ops inside it are not differentiated by the enclosing gradient pass', () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'tape_test_outside');
    const { value, grads } = tf.variableGrads(() => {
      const recorded = tf.mul(v, 2);
      const unrecorded = outsideTape(() => tf.mul(v, 3));
      return tf.sum(tf.add(recorded, unrecorded)) as tf.Scalar;
    }, [v]);
    expectClose(value, 30); // Σ 5·v = 5·6
    expectClose(grads[v.name] as tf.Tensor, [2, 2, 2]); // only the recorded 2·v
    tf.dispose([value, ...Object.values(grads), v]);
  });

  it('outsideTape: a gradient pass inside it is a top-level one, and outside any pass it just calls fn', () => {
    const v = tf.variable(tf.tensor1d([1, -1]), true, 'tape_test_nested');
    // Read inside: the enclosing pass disposes what its function created once it returns.
    let inner: number[] = [];
    const { value, grads } = tf.variableGrads(() => {
      outsideTape(() => {
        const g = tf.variableGrads(() => tf.sum(tf.square(v)) as tf.Scalar, [v]);
        inner = Array.from((g.grads[v.name] as tf.Tensor).dataSync());
        tf.dispose([g.value, ...Object.values(g.grads)]);
      });
      return tf.sum(v) as tf.Scalar;
    }, [v]);
    expectClose(inner, [2, -2]); // d/dv Σ v² = 2v
    expectClose(grads[v.name] as tf.Tensor, [1, 1]);
    expect(outsideTape(() => 7)).toBe(7);
    tf.dispose([value, ...Object.values(grads), v]);
  });

  it('connectedZero: a zero that ends a gradient pass with zero gradients instead of a throw', () => {
    const v = tf.variable(tf.tensor1d([4, -5]), true, 'tape_test_zero');
    const { value, grads } = tf.variableGrads(() => connectedZero([tf.mul(v, 3), tf.square(v)]), [v]);
    expectClose(value, 0);
    expectClose(grads[v.name] as tf.Tensor, [0, 0]);
    tf.dispose([value, ...Object.values(grads), v]);
  });
});
