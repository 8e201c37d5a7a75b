import * as tf from '@tensorflow/tfjs-core';
import { TransformerDiscriminator, withValidationLevel } from 'ganpo';
import type { AttentionImpl } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import {
  type DiscriminatorFixtureConfig,
  expectClose,
  expectGanpoError,
  expectNoLeak,
  loadFixture,
  saveToMemory,
  withLatentDim,
} from './support/helpers';

type Nested = number | Nested[];
interface Grads {
  scores: number[];
  inputGrad: Nested;
  paramGrads?: Record<string, Nested>;
}
interface Fixture {
  config: DiscriminatorFixtureConfig;
  state: Record<string, Nested>;
  x: Nested;
  mask: Nested;
  coef: number[];
  xLong: Nested;
  maskLong: Nested;
  coefLong: number[];
  eval: Record<'mask' | 'nomask' | 'longMask' | 'longNoMask', Grads>;
  train: Grads & { stateAfter: Record<string, Nested>; evalScoresAfter: number[] };
}

const fx = withLatentDim(loadFixture<Fixture>('discriminator_transformer.json'));
const TOL = { rtol: 1e-4, atol: 1e-5 };

function stateTensors(state: Record<string, Nested>): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, tf.tensor(v as number[])]));
}

function fromFixture(impl: AttentionImpl, dropout = 0): TransformerDiscriminator {
  const d = new TransformerDiscriminator({ ...fx.config, dropout, attentionImpl: impl, seed: 1 });
  const st = stateTensors(fx.state);
  d.loadStateDict(st);
  tf.dispose(Object.values(st));
  return d;
}

/** scores and d/dx Σ coef·scores. */
function scoresAndGrad(
  d: TransformerDiscriminator,
  x: tf.Tensor3D,
  mask: tf.Tensor2D | undefined,
  coef: number[],
  training = false,
): { scores: tf.Tensor1D; grad: tf.Tensor } {
  const c = tf.tensor1d(coef);
  const scores = d.apply(x, { mask, training });
  const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(d.apply(v as tf.Tensor3D, { mask }), c)))(x);
  c.dispose();
  return { scores, grad };
}

const impls: AttentionImpl[] = ['batched', 'per-head', 'fused'];

describe.each(impls)('TransformerDiscriminator parity with PyTorch (attention %s)', (impl) => {
  const cases = [
    ['mask', 'x', 'mask', 'coef'],
    ['nomask', 'x', null, 'coef'],
    ['longMask', 'xLong', 'maskLong', 'coefLong'],
    ['longNoMask', 'xLong', null, 'coefLong'],
  ] as const;
  it.each(cases)('eval %s: scores and input gradients', (name, xKey, maskKey, coefKey) => {
    const d = fromFixture(impl);
    const x = tf.tensor3d(fx[xKey] as number[][][]);
    const mask = maskKey ? tf.tensor2d(fx[maskKey] as number[][]) : undefined;
    const { scores, grad } = scoresAndGrad(d, x, mask, fx[coefKey]);
    expectClose(scores, fx.eval[name].scores, { ...TOL, label: 'scores' });
    expectClose(grad, fx.eval[name].inputGrad as number[][][], { ...TOL, label: 'input grad' });
    tf.dispose([x, mask, scores, grad]);
    d.dispose();
  });

  it('training mode (dropout 0): one power iteration like PyTorch; gradients of every weight', () => {
    const d = fromFixture(impl);
    const x = tf.tensor3d(fx.x as number[][][]);
    const mask = tf.tensor2d(fx.mask as number[][]);
    const c = tf.tensor1d(fx.coef);
    // One training forward inside variableGrads, exactly how a regularizer's discriminator step calls it.
    const vars = d.trainableVariables;
    let scores: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const s = d.apply(x, { mask, training: true });
      scores = tf.keep(tf.clone(s));
      return tf.sum(tf.mul(s, c)) as tf.Scalar;
    }, vars);
    expectClose(scores as tf.Tensor, fx.train.scores, { ...TOL, label: 'train scores' });
    const st = d.stateDict();
    for (const [k, v] of Object.entries(fx.train.stateAfter)) {
      expectClose(st[k] as tf.Tensor, v as number[], { ...TOL, label: k });
    }
    // Map each variable's gradient to the PyTorch parameter it belongs to (kernels are Wᵀ).
    const pg = fx.train.paramGrads as Record<string, Nested>;
    const byName = new Map(vars.map((v) => [v.name, v]));
    const p = d.name;
    const pairs: [string, string, boolean][] = [
      [`${p}/project_in/kernel`, 'project_in.weight_orig', true],
      [`${p}/project_in/bias`, 'project_in.bias', false],
      [`${p}/pos_embedding`, 'pos_embedding', false],
      [`${p}/head_0/kernel`, 'head.0.weight_orig', true],
      [`${p}/head_2/kernel`, 'head.2.weight_orig', true],
      [`${p}/head_2/bias`, 'head.2.bias', false],
    ];
    for (let i = 0; i < fx.config.numLayers; i++) {
      const n = `${p}/layers_${i}`;
      const t = `transformer.layers.${i}`;
      pairs.push(
        [`${n}/in_proj_kernel`, `${t}.self_attn.in_proj_weight`, true],
        [`${n}/in_proj_bias`, `${t}.self_attn.in_proj_bias`, false],
        [`${n}/out_proj_kernel`, `${t}.self_attn.out_proj.weight`, true],
        [`${n}/linear1_kernel`, `${t}.linear1.weight`, true],
        [`${n}/linear2_kernel`, `${t}.linear2.weight`, true],
        [`${n}/norm1_weight`, `${t}.norm1.weight`, false],
        [`${n}/norm2_bias`, `${t}.norm2.bias`, false],
      );
    }
    for (const [varName, key, transposed] of pairs) {
      expect(byName.has(varName), varName).toBe(true);
      const g = grads[varName] as tf.Tensor;
      const got = transposed ? tf.transpose(g) : g;
      expectClose(got, pg[key] as number[], { rtol: 1e-4, atol: 1e-5, label: key });
      if (transposed) got.dispose();
    }
    const evalAfter = d.apply(x, { mask });
    expectClose(evalAfter, fx.train.evalScoresAfter, { ...TOL, label: 'eval after' });
    tf.dispose([x, mask, c, value, scores, evalAfter, ...Object.values(grads), ...Object.values(st)]);
    d.dispose();
  });

  it('training-mode input gradient matches (dropout 0)', () => {
    const d = fromFixture(impl);
    const x = tf.tensor3d(fx.x as number[][][]);
    const mask = tf.tensor2d(fx.mask as number[][]);
    const c = tf.tensor1d(fx.coef);
    const g = tf.grad((v: tf.Tensor) =>
      tf.sum(tf.mul(d.apply(v as tf.Tensor3D, { mask, training: true }), c)),
    )(x);
    expectClose(g, fx.train.inputGrad as number[][][], { ...TOL, label: 'train input grad' });
    tf.dispose([x, mask, c, g]);
    d.dispose();
  });

  it('leaks nothing: eval, gradient, and training inside variableGrads (u, v updated)', async () => {
    const d = fromFixture(impl, 0.1);
    const x = tf.tensor3d(fx.x as number[][][]);
    const mask = tf.tensor2d(fx.mask as number[][]);
    await expectNoLeak(() => {
      d.apply(x, { mask }).dispose();
      const { value, grads } = tf.variableGrads(
        () => tf.sum(d.apply(x, { mask, training: true })) as tf.Scalar,
        d.trainableVariables,
      );
      tf.dispose([value, ...Object.values(grads)]);
      tf.grad((v: tf.Tensor) => tf.sum(d.apply(v as tf.Tensor3D)))(x).dispose();
    });
    tf.dispose([x, mask]);
    d.dispose();
  });
});

describe('TransformerDiscriminator behaviour', () => {
  it('dropout 0.1: training scores vary, eval is deterministic', () => {
    const d = fromFixture('auto', 0.1);
    const x = tf.tensor3d(fx.x as number[][][]);
    const e1 = d.apply(x);
    const e2 = d.apply(x);
    expectClose(e2, Array.from(e1.dataSync()), { rtol: 0, atol: 0 });
    const t1 = d.apply(x, { training: true });
    const t2 = d.apply(x, { training: true });
    const diff = (a: tf.Tensor, b: tf.Tensor): number =>
      tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] ?? 0);
    expect(diff(t1, t2)).toBeGreaterThan(1e-6);
    expect(diff(t1, e1)).toBeGreaterThan(1e-6);
    tf.dispose([x, e1, e2, t1, t2]);
    d.dispose();
  });

  it('initialises deterministically under seed, with the documented distributions', () => {
    const cfg = { latentDim: 16, hiddenDim: 32, numLayers: 1, numHeads: 4, maxSeqLen: 64 };
    const a = new TransformerDiscriminator({ ...cfg, seed: 7 });
    const b = new TransformerDiscriminator({ ...cfg, seed: 7 });
    const c = new TransformerDiscriminator({ ...cfg, seed: 8 });
    const [sa, sb, sc] = [a.stateDict(), b.stateDict(), c.stateDict()];
    expect(Object.keys(sa)).toEqual(Object.keys(sb));
    for (const k of Object.keys(sa))
      expectClose(sb[k] as tf.Tensor, Array.from((sa[k] as tf.Tensor).dataSync()), {
        rtol: 0,
        atol: 0,
        label: k,
      });
    expect(Array.from((sc['project_in.weight_orig'] as tf.Tensor).dataSync())).not.toEqual(
      Array.from((sa['project_in.weight_orig'] as tf.Tensor).dataSync()),
    );
    const vals = (k: string): number[] => Array.from((sa[k] as tf.Tensor).dataSync());
    const pos = vals('pos_embedding');
    const std = Math.sqrt(pos.reduce((s, v) => s + v * v, 0) / pos.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    const bound = Math.sqrt(6 / (32 + 96));
    const inProj = vals('transformer.layers.0.self_attn.in_proj_weight');
    expect(Math.max(...inProj.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...inProj.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(vals('transformer.layers.0.linear1.bias').every((v) => v === 0)).toBe(true);
    expect(vals('transformer.layers.0.norm1.weight').every((v) => v === 1)).toBe(true);
    const u = vals('project_in.weight_u');
    expectClose(Math.hypot(...u), 1, { rtol: 1e-5 });
    tf.dispose([...Object.values(sa), ...Object.values(sb), ...Object.values(sc)]);
    for (const d of [a, b, c]) d.dispose();
  });

  it('has unique variable names per instance; trainableVariables excludes u, v; dispose frees all', () => {
    const before = tf.memory().numTensors;
    const cfg = { latentDim: 4, hiddenDim: 8, numLayers: 2, numHeads: 2, maxSeqLen: 8 };
    const a = new TransformerDiscriminator(cfg);
    const b = new TransformerDiscriminator(cfg);
    const na = a.trainableVariables.map((v) => v.name);
    const nb = b.trainableVariables.map((v) => v.name);
    expect(new Set([...na, ...nb]).size).toBe(na.length + nb.length);
    expect(na.some((n) => n.endsWith('/u') || n.endsWith('/v'))).toBe(false);
    // 2 (project_in) + 1 (pos) + 12 per layer + 2 + 2 (head)
    expect(na.length).toBe(2 + 1 + 12 * 2 + 4);
    const st = a.stateDict();
    expect(Object.keys(st).length).toBe(na.length + 6);
    tf.dispose(Object.values(st));
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const z = tf.zeros([1, 2, 4]) as tf.Tensor3D;
    expectGanpoError(() => a.apply(z), 'DISPOSED');
    z.dispose();
  });

  it('stateDict uses the official PyTorch names and shapes, and round-trips', () => {
    const d = fromFixture('auto');
    const st = d.stateDict();
    expect(Object.keys(st).sort()).toEqual(Object.keys(fx.state).sort());
    for (const [k, v] of Object.entries(fx.state))
      expectClose(st[k] as tf.Tensor, v as number[], { rtol: 0, atol: 0, label: k });
    const other = new TransformerDiscriminator({ ...fx.config, seed: 99 });
    other.loadStateDict(st);
    const x = tf.tensor3d(fx.x as number[][][]);
    const s = other.apply(x);
    expectClose(s, fx.eval.nomask.scores, TOL);
    tf.dispose([x, s, ...Object.values(st)]);
    d.dispose();
    other.dispose();
  });

  it('rejects bad state dicts with STATE_DICT_MISMATCH naming the key, and changes nothing', () => {
    const d = new TransformerDiscriminator({ ...fx.config, seed: 3 });
    const good = stateTensors(fx.state);
    const { 'head.2.bias': _dropped, ...missing } = good;
    expectGanpoError(() => d.loadStateDict(missing), 'STATE_DICT_MISMATCH', 'head.2.bias');
    const extra = { ...good, 'transformer.norm.weight': tf.ones([8]) };
    expectGanpoError(() => d.loadStateDict(extra), 'STATE_DICT_MISMATCH', 'transformer.norm.weight');
    const wrong = { ...good, 'project_in.weight_orig': tf.zeros([6, 8]) };
    const before = d.stateDict();
    expectGanpoError(() => d.loadStateDict(wrong), 'STATE_DICT_MISMATCH', 'project_in.weight_orig');
    expectGanpoError(
      () => d.loadStateDict(wrong, { strict: false }),
      'STATE_DICT_MISMATCH',
      'project_in.weight_orig',
    );
    const after = d.stateDict();
    for (const k of Object.keys(before))
      expectClose(after[k] as tf.Tensor, Array.from((before[k] as tf.Tensor).dataSync()), {
        rtol: 0,
        atol: 0,
      });
    // Non-strict: missing and unexpected keys are allowed.
    d.loadStateDict(
      { ...missing, 'transformer.norm.weight': extra['transformer.norm.weight'] as tf.Tensor },
      { strict: false },
    );
    tf.dispose([
      ...Object.values(good),
      extra['transformer.norm.weight'],
      wrong['project_in.weight_orig'],
      ...Object.values(before),
      ...Object.values(after),
    ]);
    d.dispose();
  });

  it('rejects bad inputs and options with clear GanpoErrors', () => {
    const d = new TransformerDiscriminator({ ...fx.config, seed: 3 });
    const x = tf.zeros([2, 3, 6]) as tf.Tensor3D;
    const bad = {
      dim: tf.zeros([2, 3, 5]) as tf.Tensor3D,
      rank: tf.zeros([2, 6]) as unknown as tf.Tensor3D,
      maskShape: tf.ones([2, 4]) as tf.Tensor2D,
      maskValues: tf.fill([2, 3], 0.5) as tf.Tensor2D,
      nan: tf.fill([2, 3, 6], Number.NaN) as tf.Tensor3D,
      int: tf.zeros([2, 3, 6], 'int32') as tf.Tensor3D,
    };
    expectGanpoError(() => d.apply(bad.dim), 'SHAPE_MISMATCH', 'hidden');
    expectGanpoError(() => d.apply(bad.rank), 'SHAPE_MISMATCH', 'hidden');
    expectGanpoError(() => d.apply(x, { mask: bad.maskShape }), 'SHAPE_MISMATCH', 'mask');
    expectGanpoError(() => d.apply(x, { mask: bad.maskValues }), 'OUT_OF_RANGE', 'mask');
    expectGanpoError(() => d.apply(bad.nan), 'NON_FINITE', 'hidden');
    expectGanpoError(() => d.apply(bad.int), 'INVALID_DTYPE', 'hidden');
    withValidationLevel('shapes', () => {
      // value checks are off at 'shapes', shape checks are not
      expectGanpoError(() => d.apply(bad.dim), 'SHAPE_MISMATCH', 'hidden');
    });
    tf.dispose(Object.values(bad));
    expectGanpoError(
      () => new TransformerDiscriminator({ latentDim: 6, hiddenDim: 10, numHeads: 4 }),
      'INVALID_OPTION',
      'numHeads',
    );
    expectGanpoError(() => new TransformerDiscriminator({ latentDim: 0 }), 'OUT_OF_RANGE', 'latentDim');
    expectGanpoError(
      () => new TransformerDiscriminator({ latentDim: 6, dropout: 1 }),
      'OUT_OF_RANGE',
      'dropout',
    );
    expectGanpoError(
      () => new TransformerDiscriminator({ latentDim: 6, attentionImpl: 'fast' as 'auto' }),
      'INVALID_OPTION',
      'attentionImpl',
    );
    x.dispose();
    d.dispose();
  });

  it('saves and loads through a tf.io handler', async () => {
    const d = fromFixture('auto');
    const saved = await saveToMemory(d);
    const loaded = await TransformerDiscriminator.load(tf.io.fromMemory(saved));
    expect(loaded.config.hiddenDim).toBe(fx.config.hiddenDim);
    const x = tf.tensor3d(fx.x as number[][][]);
    const mask = tf.tensor2d(fx.mask as number[][]);
    const s = loaded.apply(x, { mask });
    expectClose(s, fx.eval.mask.scores, TOL);
    await expect(d.save('nowhere://x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    tf.dispose([x, mask, s]);
    d.dispose();
    loaded.dispose();
  });
});

describe('TransformerDiscriminator with tfjs autodiff instead of the custom gradients', () => {
  it('gives the same scores and gradients (fixture parity)', async () => {
    const { kernelFlags } = await import('../src/ops/kernel-flags');
    const saved = { ...kernelFlags };
    Object.assign(kernelFlags, { fastLinearGradient: false, fusedLayerNorm: false, fusedGelu: false });
    try {
      const d = fromFixture('batched');
      const x = tf.tensor3d(fx.x as number[][][]);
      const mask = tf.tensor2d(fx.mask as number[][]);
      const { scores, grad } = scoresAndGrad(d, x, mask, fx.coef);
      expectClose(scores, fx.eval.mask.scores, TOL);
      expectClose(grad, fx.eval.mask.inputGrad as number[][][], TOL);
      tf.dispose([x, mask, scores, grad]);
      d.dispose();
    } finally {
      Object.assign(kernelFlags, saved);
    }
  });
});

describe('dropout in training mode', () => {
  it('dropoutMask keeps 1 − rate of the entries, scaled by 1/(1 − rate)', async () => {
    const { dropoutMask } = await import('../src/ops/dropout');
    const m = dropoutMask([200, 100], 0.25);
    const v = Array.from(m.dataSync());
    const kept = v.filter((e) => e !== 0);
    expect(kept.every((e) => Math.abs(e - 4 / 3) < 1e-6)).toBe(true);
    expect(kept.length / v.length).toBeGreaterThan(0.72);
    expect(kept.length / v.length).toBeLessThan(0.78);
    m.dispose();
  });

  it.each(impls)('the %s attention backward with dropout matches finite differences (same masks)', (impl) => {
    // Same masks on every evaluation: the discriminator's dropout stream is rewound before each call.
    {
      // No spectral norm: its power iteration would change σ between the evaluations.
      const d = new TransformerDiscriminator({
        ...fx.config,
        dropout: 0.3,
        spectralNorm: false,
        attentionImpl: impl,
        seed: 4,
      });
      const start = d.dropoutState;
      const reset = (): void => {
        d.dropoutState = start;
      };
      const x = tf.tensor3d(fx.x as number[][][]);
      const mask = tf.tensor2d(fx.mask as number[][]);
      const c = tf.tensor1d(fx.coef);
      const f = (v: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(d.apply(v as tf.Tensor3D, { mask, training: true }), c));
      reset();
      const g = tf.grad(f)(x);
      const gv = g.dataSync();
      const xv = x.dataSync();
      const eps = 1e-2;
      for (const idx of [0, 7, 29, 40, 61]) {
        const at = (delta: number): number => {
          const p = Float32Array.from(xv);
          p[idx] = (p[idx] as number) + delta;
          const xp = tf.tensor3d(p, x.shape);
          reset();
          const val = tf.tidy(() => f(xp).dataSync()[0] as number);
          xp.dispose();
          return val;
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        expect(Math.abs(fd - (gv[idx] as number)), `d/dx[${idx}]`).toBeLessThan(2e-3 + 2e-2 * Math.abs(fd));
      }
      tf.dispose([x, mask, c, g]);
      d.dispose();
    }
  });
});
