import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Dense, TokenEmbedding } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { GATHER_ROWS } from '../../src/ops/wasm/gather-rows-kernel';
import { expectGanpoError, expectNoLeak, saveToMemory } from '../support/helpers';

// TokenEmbedding against tf.layers.embedding built with the same arguments: the same weight, the
// same initial values, the same outputs and gradients bit for bit, and tfjs-layers serialisation.

const bits = (t: tf.Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
const ids2d = () =>
  tf.tensor2d(
    [
      [1, 4, 4, 0],
      [9, 2, 1, 1],
    ],
    undefined,
    'int32',
  );

/** A model ids [B,T] → the layer's output, for tfjs-layers' own apply/predict path. */
function modelOf(layer: tfl.layers.Layer): tfl.LayersModel {
  const input = tfl.input({ shape: [null], dtype: 'int32' });
  return tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
}

describe('TokenEmbedding', () => {
  it.each([
    ['N(0, 0.02²) seeded', () => tfl.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: 1001 })],
    ['uniform seeded', () => tfl.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 7 })],
  ])('swaps in for tf.layers.embedding (%s): weight, initial values, outputs, gradient', (_, init) => {
    const args = { inputDim: 10, outputDim: 6 };
    const ours = modelOf(new TokenEmbedding({ ...args, embeddingsInitializer: init() }));
    const theirs = modelOf(tfl.layers.embedding({ ...args, embeddingsInitializer: init() }));
    const [w] = ours.layers[1]?.weights ?? [];
    expect(w?.name).toMatch(/\/embeddings(_\d+)?$/);
    expect(w?.shape).toEqual([10, 6]);
    expect(ours.trainableWeights).toHaveLength(1);
    const [a, b] = [ours.getWeights()[0] as tf.Tensor, theirs.getWeights()[0] as tf.Tensor];
    expect(bits(a)).toEqual(bits(b));
    const x = ids2d();
    const [y1, y2] = [ours.predict(x) as tf.Tensor, theirs.predict(x) as tf.Tensor];
    expect(y1.shape).toEqual([2, 4, 6]);
    expect(bits(y1)).toEqual(bits(y2));
    const dy = tf.randomNormal([2, 4, 6], 0, 1, 'float32', 3);
    const grad = (m: tfl.LayersModel) => {
      const v = m.trainableWeights[0]?.read() as tf.Variable;
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(m.apply(x, { training: true }) as tf.Tensor, dy)) as tf.Scalar,
        [v],
      );
      value.dispose();
      return grads[v.name] as tf.Tensor;
    };
    const [g1, g2] = [grad(ours), grad(theirs)];
    expect(bits(g1)).toEqual(bits(g2));
    tf.dispose([x, y1, y2, dy, g1, g2]);
    ours.dispose();
    theirs.dispose();
  });

  it('casts float ids to int32, as tf.layers.embedding does', () => {
    const layer = new TokenEmbedding({ inputDim: 10, outputDim: 3 });
    const x = ids2d();
    const xf = tf.cast(x, 'float32');
    const [a, b] = [layer.apply(x) as tf.Tensor, layer.apply(xf) as tf.Tensor];
    expect(bits(b)).toEqual(bits(a));
    tf.dispose([x, xf, a, b]);
    layer.dispose();
  });

  it("runs ganpo's row-copy kernel on wasm", async () => {
    const layer = new TokenEmbedding({ inputDim: 10, outputDim: 8 });
    const x = ids2d();
    layer.apply(x); // builds the weight outside the profile
    const info = await tf.profile(() => {
      (layer.apply(x) as tf.Tensor).dispose();
    });
    const names = info.kernels.map((k) => k.name);
    expect(names.includes(GATHER_ROWS)).toBe(tf.getBackend() === 'wasm');
    x.dispose();
    layer.dispose();
  });

  it('saves and loads with tfjs-layers (a registered class), with the same outputs and config', async () => {
    const input = tfl.input({ shape: [null], dtype: 'int32' });
    const emb = new TokenEmbedding({
      inputDim: 10,
      outputDim: 8,
      embeddingsInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: 5 }),
      name: 'tokens',
    });
    const h = emb.apply(input) as tfl.SymbolicTensor;
    const out = new Dense({ units: 10, seed: 1 }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const x = ids2d();
    const before = model.predict(x) as tf.Tensor;
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(await saveToMemory(model)));
    const after = loaded.predict(x) as tf.Tensor;
    expect(bits(after)).toEqual(bits(before));
    const layer = loaded.getLayer('tokens');
    expect(layer.getClassName()).toBe('GanpoTokenEmbedding');
    expect(layer).toBeInstanceOf(TokenEmbedding);
    const expected = {
      name: 'tokens',
      inputDim: 10,
      outputDim: 8,
      embeddingsInitializer: { className: 'RandomNormal', config: { mean: 0, stddev: 0.02, seed: 5 } },
    };
    expect(emb.getConfig()).toMatchObject(expected);
    expect(layer.getConfig()).toMatchObject(expected);
    // the same config as tf.layers.embedding's, apart from the layer's name
    const plain = tfl.layers.embedding({
      inputDim: 10,
      outputDim: 8,
      embeddingsInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: 5 }),
      name: 'tokens',
    });
    expect(emb.getConfig()).toEqual(plain.getConfig());
    tf.dispose([x, before, after]);
    model.dispose();
    loaded.dispose();
  });

  it('leaves no tensor behind, forward and backward', async () => {
    const model = modelOf(new TokenEmbedding({ inputDim: 10, outputDim: 4 }));
    const x = ids2d();
    const v = model.trainableWeights[0]?.read() as tf.Variable;
    await expectNoLeak(() => {
      (model.predict(x) as tf.Tensor).dispose();
      const { value, grads } = tf.variableGrads(() => tf.sum(model.apply(x) as tf.Tensor) as tf.Scalar, [v]);
      tf.dispose([value, ...Object.values(grads)]);
    });
    x.dispose();
    model.dispose();
  });

  it('refuses bad arguments and out-of-range ids with a GanpoError', () => {
    expectGanpoError(() => new TokenEmbedding({ inputDim: 0, outputDim: 4 }), 'OUT_OF_RANGE', 'inputDim');
    expectGanpoError(() => new TokenEmbedding({ inputDim: 5, outputDim: 2.5 }), 'OUT_OF_RANGE', 'outputDim');
    expectGanpoError(
      () => new TokenEmbedding(null as unknown as { inputDim: number; outputDim: number }),
      'INVALID_ARGUMENT',
      'args',
    );
    const layer = new TokenEmbedding({ inputDim: 5, outputDim: 2 });
    const ok = tf.tensor1d([0, 4], 'int32');
    (layer.apply(ok) as tf.Tensor).dispose(); // builds the weight
    const bad = tf.tensor1d([0, 5], 'int32');
    expectGanpoError(() => layer.apply(bad), 'OUT_OF_RANGE', 'ids');
    tf.dispose([ok, bad]);
    layer.dispose();
  });
});
