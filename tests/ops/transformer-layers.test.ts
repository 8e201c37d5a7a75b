import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  Dense,
  fastLinear,
  LayerNorm,
  PositionEmbedding,
  TransformerBlock,
  type TransformerBlockWeights,
  transformerBlock,
  withLeanGradients,
  withSharedClones,
} from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { transformerBlockShapes, type WeightName } from '../../src/ops/transformer-block';
import { expectClose, expectGanpoError, expectNoLeak, saveToMemory } from '../support/helpers';

// ganpo/ops' transformer building blocks against the same network written with plain tfjs ops and
// layers (tfjs autodiff), in value and gradient, on whichever backend this project runs (cpu, wasm).

// The block's weights in GPT-2 / PyTorch order.
const NAMES = Object.keys(transformerBlockShapes(1, 1)) as WeightName[];

function randomWeights(d: number, f: number, seed: number): TransformerBlockWeights {
  const n = (shape: number[], k: number, scale = 0.3, offset = 0) =>
    tf.add(tf.randomNormal(shape, 0, scale, 'float32', seed + k), offset);
  return {
    ln1Gamma: n([d], 1, 0.1, 1) as tf.Tensor1D,
    ln1Beta: n([d], 2, 0.1) as tf.Tensor1D,
    qkvKernel: n([d, 3 * d], 3) as tf.Tensor2D,
    qkvBias: n([3 * d], 4, 0.1) as tf.Tensor1D,
    outKernel: n([d, d], 5) as tf.Tensor2D,
    outBias: n([d], 6, 0.1) as tf.Tensor1D,
    ln2Gamma: n([d], 7, 0.1, 1) as tf.Tensor1D,
    ln2Beta: n([d], 8, 0.1) as tf.Tensor1D,
    fc1Kernel: n([d, f], 9) as tf.Tensor2D,
    fc1Bias: n([f], 10, 0.1) as tf.Tensor1D,
    fc2Kernel: n([f, d], 11) as tf.Tensor2D,
    fc2Bias: n([d], 12, 0.1) as tf.Tensor1D,
  };
}

/** The block in plain tfjs ops: moments LayerNorm, batched matMul attention with a mask, erf GELU. */
function plainBlock(
  x: tf.Tensor3D,
  w: TransformerBlockWeights,
  numHeads: number,
  causal: boolean,
  mask?: tf.Tensor2D,
): tf.Tensor3D {
  const [B, T, d] = x.shape;
  const dh = d / numHeads;
  const ln = (z: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(z, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  };
  const dense = (z: tf.Tensor, k: tf.Tensor2D, b: tf.Tensor) =>
    tf.add(tf.matMul(tf.reshape(z, [-1, k.shape[0]]), k), b);
  const gelu = (z: tf.Tensor) => tf.mul(tf.mul(z, 0.5), tf.add(tf.erf(tf.mul(z, Math.SQRT1_2)), 1));
  const heads = (z: tf.Tensor) => tf.transpose(tf.reshape(z, [B, T, numHeads, dh]), [0, 2, 1, 3]);
  const [q, k, v] = tf
    .split(dense(ln(x, w.ln1Gamma, w.ln1Beta), w.qkvKernel, w.qkvBias), 3, 1)
    .map(heads) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  let scores: tf.Tensor = tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh));
  if (causal) {
    const above = Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0));
    scores = tf.add(scores, tf.tensor2d(above, [T, T]));
  }
  if (mask) scores = tf.add(scores, tf.reshape(tf.mul(tf.sub(1, mask), -1e9), [B, 1, 1, T]));
  const context = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores) as tf.Tensor4D, v), [0, 2, 1, 3]), [
    B * T,
    d,
  ]);
  const a = tf.add(tf.reshape(x, [B * T, d]), dense(context, w.outKernel, w.outBias));
  const y = tf.add(
    a,
    dense(gelu(dense(ln(a, w.ln2Gamma, w.ln2Beta), w.fc1Kernel, w.fc1Bias)), w.fc2Kernel, w.fc2Bias),
  );
  return tf.reshape(y, [B, T, d]) as tf.Tensor3D;
}

/** Value and gradients (x first, then every weight) of Σ block(x)·u. */
function valueAndGrads(
  f: (x: tf.Tensor3D, w: TransformerBlockWeights) => tf.Tensor3D,
  x: tf.Tensor3D,
  w: TransformerBlockWeights,
  u: tf.Tensor3D,
): { value: Float32Array; grads: Float32Array[] } {
  return tf.tidy(() => {
    const value = f(x, w).dataSync() as Float32Array;
    const g = tf.grads((...args: tf.Tensor[]) => {
      const [xx, ...ws] = args;
      const weights = Object.fromEntries(
        NAMES.map((n, i) => [n, ws[i]]),
      ) as unknown as TransformerBlockWeights;
      return tf.sum(tf.mul(f(xx as tf.Tensor3D, weights), u));
    })([x, ...NAMES.map((n) => w[n])]);
    return { value, grads: g.map((t) => t.dataSync() as Float32Array) };
  });
}

describe('transformerBlock', () => {
  const cases = [
    {
      name: 'causal, T not a multiple of 4',
      B: 2,
      T: 7,
      d: 16,
      heads: 2,
      f: 24,
      causal: true,
      masked: false,
    },
    { name: 'causal with key padding', B: 2, T: 8, d: 16, heads: 4, f: 32, causal: true, masked: true },
    {
      name: 'encoder (not causal) with key padding',
      B: 3,
      T: 5,
      d: 8,
      heads: 2,
      f: 16,
      causal: false,
      masked: true,
    },
    {
      name: 'head width not a multiple of 4 (no fused kernel)',
      B: 2,
      T: 6,
      d: 6,
      heads: 2,
      f: 12,
      causal: true,
      masked: false,
    },
  ];

  it.each(cases)('equals plain tfjs ops in value and gradient: $name', (c) => {
    const w = randomWeights(c.d, c.f, 10);
    const x = tf.randomNormal([c.B, c.T, c.d], 0, 1, 'float32', 1) as tf.Tensor3D;
    const u = tf.randomNormal([c.B, c.T, c.d], 0, 1, 'float32', 2) as tf.Tensor3D;
    const maskRows = Array.from({ length: c.B * c.T }, (_, i) => (i >= c.T && i % c.T >= c.T - 2 ? 0 : 1));
    const mask = c.masked ? tf.tensor2d(maskRows, [c.B, c.T]) : undefined;
    const ours = valueAndGrads(
      (xx, ww) =>
        transformerBlock(xx, ww, {
          numHeads: c.heads,
          causal: c.causal,
          ...(mask ? { attentionMask: mask } : {}),
        }),
      x,
      w,
      u,
    );
    const plain = valueAndGrads((xx, ww) => plainBlock(xx, ww, c.heads, c.causal, mask), x, w, u);
    expectClose(ours.value, plain.value, { rtol: 1e-4, atol: 1e-5, label: 'y' });
    for (const [i, g] of ours.grads.entries())
      expectClose(g, plain.grads[i] as Float32Array, {
        rtol: 1e-3,
        atol: 1e-4,
        label: i === 0 ? 'dx' : `d${NAMES[i - 1]}`,
      });
    tf.dispose([x, u, ...(mask ? [mask] : []), ...Object.values(w)]);
  });

  it('causal: the output at position t does not depend on later tokens', () => {
    const w = randomWeights(8, 16, 20);
    const [early, changed] = tf.tidy(() => {
      const x = tf.randomNormal([1, 9, 8], 0, 1, 'float32', 3) as tf.Tensor3D;
      const later = tf.concat(
        [tf.slice(x, [0, 0, 0], [1, 5, 8]), tf.randomNormal([1, 4, 8], 0, 1, 'float32', 4)],
        1,
      );
      const first5 = (z: tf.Tensor) =>
        tf.slice(transformerBlock(z as tf.Tensor3D, w, { numHeads: 2 }), [0, 0, 0], [1, 5, 8]).dataSync();
      return [first5(x), first5(later)];
    });
    expect(Array.from(changed)).toEqual(Array.from(early));
    tf.dispose(Object.values(w));
  });

  it('leaves no tensor behind and refuses bad input, naming the argument', async () => {
    const w = randomWeights(8, 16, 30);
    const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 5) as tf.Tensor3D;
    await expectNoLeak(() => {
      const g = tf.grads((xx: tf.Tensor, k: tf.Tensor) =>
        tf.sum(
          transformerBlock(
            xx as tf.Tensor3D,
            { ...w, fc1Kernel: k as tf.Tensor2D },
            { numHeads: 2, dropout: 0.2, training: true },
          ),
        ),
      )([x, w.fc1Kernel]);
      tf.dispose(g);
    });
    expectGanpoError(() => transformerBlock(x, w, { numHeads: 3 }), 'SHAPE_MISMATCH', 'numHeads');
    expectGanpoError(
      () => transformerBlock(x, { ...w, qkvKernel: w.outKernel }, { numHeads: 2 }),
      'SHAPE_MISMATCH',
      'weights.qkvKernel',
    );
    expectGanpoError(() => transformerBlock(x, w, { numHeads: 2, dropout: 1 }), 'OUT_OF_RANGE', 'dropout');
    const wrongMask = tf.ones([2, 5]) as tf.Tensor2D;
    expectGanpoError(
      () => transformerBlock(x, w, { numHeads: 2, attentionMask: wrongMask }),
      'SHAPE_MISMATCH',
      'attentionMask',
    );
    tf.dispose([x, wrongMask, ...Object.values(w)]);
  });

  it('the layers and step scopes refuse a missing options object or callback with GanpoErrors', () => {
    const bad = null as unknown as never;
    expectGanpoError(() => new Dense(bad), 'INVALID_ARGUMENT', 'args');
    expectGanpoError(() => new PositionEmbedding(bad), 'INVALID_ARGUMENT', 'args');
    expectGanpoError(() => new TransformerBlock(bad), 'INVALID_ARGUMENT', 'args');
    expectGanpoError(() => new LayerNorm(bad), 'INVALID_ARGUMENT', 'args');
    expectGanpoError(() => withLeanGradients(bad), 'INVALID_ARGUMENT', 'fn');
    expectGanpoError(() => withSharedClones(bad), 'INVALID_ARGUMENT', 'fn');
  });
});

describe('fastLinear on inputs of rank > 2', () => {
  it('equals the flattened 2-D product, gradients included', () => {
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 1);
    const k = tf.randomNormal([4, 5], 0, 1, 'float32', 2) as tf.Tensor2D;
    const b = tf.randomNormal([5], 0, 1, 'float32', 3) as tf.Tensor1D;
    const u = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 4);
    const ours = tf.grads((xx, kk, bb) =>
      tf.sum(tf.mul(fastLinear(xx, kk as tf.Tensor2D, bb as tf.Tensor1D), u)),
    );
    const plain = tf.grads((xx, kk, bb) =>
      tf.sum(
        tf.mul(tf.add(tf.reshape(tf.matMul(tf.reshape(xx, [6, 4]), kk as tf.Tensor2D), [2, 3, 5]), bb), u),
      ),
    );
    const g1 = ours([x, k, b]);
    const g2 = plain([x, k, b]);
    for (const [i, g] of g1.entries())
      expectClose(g, (g2[i] as tf.Tensor).dataSync(), { rtol: 1e-5, atol: 1e-5, label: `grad ${i}` });
    expect(fastLinear(x, k, b).shape).toEqual([2, 3, 5]);
    tf.dispose([x, k, b, u, ...g1, ...g2]);
  });
});

/** Gradients of Σ layer(x)·u w.r.t. x and the layer's trainable weights (in order). */
function layerGrads(layer: tfl.layers.Layer, x: tf.Tensor, u: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const f = () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, u)) as tf.Scalar;
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, u)))(x);
    const { grads } = tf.variableGrads(f, vars);
    return [dx, ...vars.map((v) => grads[v.name] as tf.Tensor)].map((t) => t.dataSync() as Float32Array);
  });
}

describe('layers match the plain tfjs-layers layers', () => {
  /** Both layers built on x, given the same weights: equal outputs and gradients. */
  function expectSameLayer(
    ours: tfl.layers.Layer,
    plain: tfl.layers.Layer,
    x: tf.Tensor,
    weights: tf.Tensor[],
  ) {
    const u = tf.randomNormal(
      [...x.shape.slice(0, -1), ...(ours.apply(x) as tf.Tensor).shape.slice(-1)],
      0,
      1,
      'float32',
      2,
    );
    plain.apply(x);
    ours.setWeights(weights);
    plain.setWeights(weights);
    expectClose(ours.apply(x) as tf.Tensor, (plain.apply(x) as tf.Tensor).dataSync(), {
      rtol: 1e-4,
      atol: 1e-5,
    });
    const g1 = layerGrads(ours, x, u);
    const g2 = layerGrads(plain, x, u);
    for (const [i, g] of g1.entries())
      expectClose(g, g2[i] as Float32Array, { rtol: 1e-3, atol: 1e-4, label: `grad ${i}` });
    tf.dispose([x, u, ...weights]);
    ours.dispose();
    plain.dispose();
  }

  it('LayerNorm equals tf.layers.layerNormalization({ epsilon: 1e-5 })', () => {
    expectSameLayer(
      new LayerNorm(),
      tfl.layers.layerNormalization({ epsilon: 1e-5 }),
      tf.randomNormal([2, 3, 8], 0, 2, 'float32', 1),
      [tf.randomNormal([8], 1, 0.2, 'float32', 3), tf.randomNormal([8], 0, 0.2, 'float32', 4)],
    );
  });

  it.each(['linear', 'gelu'] as const)("Dense({ activation: '%s' }) equals tf.layers.dense", (activation) => {
    expectSameLayer(
      new Dense({ units: 4, activation }),
      tfl.layers.dense({ units: 4, activation }),
      tf.randomNormal([2, 3, 6], 0, 1, 'float32', 5),
      [tf.randomNormal([6, 4], 0, 0.5, 'float32', 7), tf.randomNormal([4], 0, 0.5, 'float32', 8)],
    );
  });

  it('TransformerBlock computes transformerBlock on its weights, in GPT-2 order and initialisation', () => {
    const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 9) as tf.Tensor3D;
    const layer = new TransformerBlock({ numHeads: 2, ffnDim: 12, numLayers: 8, seed: 4 });
    const y = layer.apply(x) as tf.Tensor;
    expect(layer.weights.map((v) => v.originalName.split('/').pop())).toEqual([
      'ln1_gamma',
      'ln1_beta',
      'qkv_kernel',
      'qkv_bias',
      'out_kernel',
      'out_bias',
      'ln2_gamma',
      'ln2_beta',
      'fc1_kernel',
      'fc1_bias',
      'fc2_kernel',
      'fc2_bias',
    ]);
    const ws = layer.getWeights();
    const weights = Object.fromEntries(NAMES.map((n, i) => [n, ws[i]])) as unknown as TransformerBlockWeights;
    expectClose(y, transformerBlock(x, weights, { numHeads: 2 }).dataSync(), { rtol: 0, atol: 0 });
    // GPT-2: N(0, 0.02²) kernels, residual projections N(0, (0.02/√(2·8))²), zero biases.
    const std = (t: tf.Tensor) => Math.sqrt(tf.moments(t).variance.dataSync()[0] as number);
    expect(std(weights.qkvKernel)).toBeCloseTo(0.02, 2);
    expect(std(weights.fc2Kernel)).toBeCloseTo(0.005, 3);
    expect(Array.from(weights.fc1Bias.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([x, y]);
    layer.dispose(); // its weights (getWeights returns them, not copies)
  });
});

describe('a tfjs-layers model of the layers', () => {
  it('saves and loads with tfjs-layers (registered classes), with the same outputs', async () => {
    const ids = tfl.input({ shape: [null], dtype: 'int32' });
    let h = tfl.layers.embedding({ inputDim: 11, outputDim: 8 }).apply(ids) as tfl.SymbolicTensor;
    h = new TransformerBlock({ numHeads: 2, numLayers: 2, seed: 1 }).apply(h) as tfl.SymbolicTensor;
    h = new TransformerBlock({ numHeads: 2, numLayers: 2, seed: 2, causal: false }).apply(
      h,
    ) as tfl.SymbolicTensor;
    const hidden = new LayerNorm({ epsilon: 1e-6 }).apply(h) as tfl.SymbolicTensor;
    const logits = new Dense({ units: 11, activation: 'gelu', seed: 3 }).apply(hidden) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: ids, outputs: [logits, hidden] });
    const x = tf.tensor2d(
      [
        [1, 2, 3, 4],
        [5, 6, 7, 0],
      ],
      undefined,
      'int32',
    );
    const before = (model.predict(x) as tf.Tensor[]).map((t) => t.dataSync());
    const artifacts = await saveToMemory(model);
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const after = (loaded.predict(x) as tf.Tensor[]).map((t) => t.dataSync());
    for (const [i, a] of after.entries()) expectClose(a, before[i] as Float32Array, { rtol: 0, atol: 0 });
    expect(loaded.layers.map((l) => l.getClassName())).toEqual([
      'InputLayer',
      'Embedding',
      'GanpoTransformerBlock',
      'GanpoTransformerBlock',
      'GanpoLayerNorm',
      'GanpoDense',
    ]);
    // the embedding trains on wasm too (UnsortedSegmentSum is registered by ganpo/ops)
    const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () => tf.sum((model.apply(x) as tf.Tensor[])[0] as tf.Tensor) as tf.Scalar,
      vars,
    );
    expect(Object.keys(grads)).toHaveLength(vars.length);
    tf.dispose([x, value, ...Object.values(grads)]);
    model.dispose();
    loaded.dispose();
  });
});
