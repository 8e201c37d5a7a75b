import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { causalLMFromLayersModel } from 'ganpo';
import { afterEach, describe, expect, it } from 'vitest';

import { registerWasmTrainingKernels } from '../src/ops/wasm-training-kernels';
import { expectClose, expectGanpoError } from './support/helpers';

// The Embedding's gradient on wasm.
registerWasmTrainingKernels();

const V = 7;
const E = 5;
const H = 4;
const B = 2;
const T = 3;
let uid = 0;

/** Embedding → Dense(H, tanh) "hidden" → Dense(V), as a Sequential or with the first two nested. */
function makeModel(kind: 'sequential' | 'nested', head: 'linear' | 'softmax' = 'linear') {
  const u = uid++;
  const emb = tfl.layers.embedding({
    inputDim: V,
    outputDim: E,
    embeddingsInitializer: tfl.initializers.randomUniform({ minval: -1, maxval: 1, seed: 1 }),
    name: `emb_${u}`,
  });
  const hidden = tfl.layers.dense({
    units: H,
    activation: 'tanh',
    kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 5 }),
    name: `hidden_${u}`,
  });
  const logits = tfl.layers.dense({
    units: V,
    activation: head,
    kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
    name: `logits_${u}`,
  });
  if (kind === 'sequential') {
    const model = tfl.sequential({
      layers: [tfl.layers.inputLayer({ inputShape: [T] }), emb, hidden, logits],
    });
    return { model, hiddenName: hidden.name, emb, hidden, logits };
  }
  const inner = tfl.sequential({
    name: `decoder_${u}`,
    layers: [tfl.layers.inputLayer({ inputShape: [T] }), emb, hidden],
  });
  const input = tfl.input({ shape: [T] });
  const out = logits.apply(inner.apply(input) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
  return { model: tfl.model({ inputs: input, outputs: out }), hiddenName: hidden.name, emb, hidden, logits };
}

/** The same network written out by hand from the layers' variables (one-hot product, no gather). */
function manual(m: ReturnType<typeof makeModel>, ids: tf.Tensor2D) {
  const [embTable] = m.emb.getWeights();
  const [w1, b1] = m.hidden.getWeights();
  const [w2, b2] = m.logits.getWeights();
  const oneHot = tf.cast(tf.oneHot(tf.reshape(ids, [-1]), V), 'float32');
  const x = tf.matMul(oneHot, embTable as tf.Tensor2D);
  const h = tf.tanh(tf.add(tf.matMul(x, w1 as tf.Tensor2D), b1 as tf.Tensor));
  const z = tf.add(tf.matMul(h, w2 as tf.Tensor2D), b2 as tf.Tensor);
  return { hidden: tf.reshape(h, [B, T, H]), logits: tf.reshape(z, [B, T, V]) };
}

const IDS = [
  [1, 4, 6],
  [0, 2, 2],
];
const live: { dispose: () => unknown }[] = [];
afterEach(() => {
  for (const d of live.splice(0)) d.dispose();
});

describe('causalLMFromLayersModel', () => {
  it.each(['sequential', 'nested'] as const)(
    '%s: forward returns the logits and hidden state of one pass, and gradients of both reach every weight',
    (kind) => {
      const m = makeModel(kind);
      const lm = causalLMFromLayersModel(m.model, { hiddenLayer: m.hiddenName });
      const ids = tf.tensor2d(IDS, [B, T], 'int32');
      live.push(lm, m.model, ids);
      expect(lm.latentDim).toBe(H);
      expect(lm.trainableVariables.map((v) => v.name)).toEqual(
        m.model.trainableWeights.map((w) => (w.read() as tf.Variable).name),
      );
      // A loss mixing both outputs, so the hidden state's own gradient path is exercised.
      const u = tf.tensor1d([0.3, -0.7, 0.2, 0.9]);
      const w = tf.linspace(-1, 1, V);
      live.push(u, w);
      const loss = (out: { logits: tf.Tensor; hidden: tf.Tensor }) =>
        tf.add(
          tf.sum(tf.mul(tf.logSoftmax(out.logits), w)),
          tf.sum(tf.square(tf.mul(out.hidden, u))),
        ) as tf.Scalar;
      const before = tf.memory().numTensors;
      const got = tf.variableGrads(() => {
        const out = lm.forward(ids, { training: true });
        expect(out.logits.shape).toEqual([B, T, V]);
        expect(out.hidden.shape).toEqual([B, T, H]);
        return loss(out);
      }, lm.trainableVariables);
      const want = tf.variableGrads(() => loss(manual(m, ids)), lm.trainableVariables);
      expectClose(got.value, Array.from(want.value.dataSync()), { rtol: 1e-5, label: 'loss' });
      for (const v of lm.trainableVariables) {
        const g = got.grads[v.name] as tf.Tensor;
        const largest = tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]);
        expect(largest, `${v.name} gets gradient`).toBeGreaterThan(0);
        expectClose(g, Array.from((want.grads[v.name] as tf.Tensor).dataSync()), {
          rtol: 1e-4,
          atol: 1e-6,
          label: v.name,
        });
      }
      tf.dispose([got.value, want.value, ...Object.values(got.grads), ...Object.values(want.grads)]);
      expect(tf.memory().numTensors, 'a forward + backward left tensors behind').toBe(before);
    },
  );

  it('leaves the model as it was: same predictions after dispose, no hook left, weights alive', () => {
    const m = makeModel('nested');
    const ids = tf.tensor2d(IDS, [B, T], 'int32');
    live.push(m.model, ids);
    const plain = Array.from((m.model.predict(ids) as tf.Tensor).dataSync());
    const lm = causalLMFromLayersModel(m.model, { hiddenLayer: m.hidden });
    tf.tidy(() => lm.forward(ids, { training: false }));
    // Other uses of the model between forwards capture nothing (the hook lives for one pass).
    const before = tf.memory().numTensors;
    tf.dispose(m.model.predict(ids) as tf.Tensor);
    expect(tf.memory().numTensors).toBe(before);
    lm.dispose();
    expect(Array.from((m.model.predict(ids) as tf.Tensor).dataSync())).toEqual(plain);
    expect(Object.hasOwn(m.hidden, 'call')).toBe(false);
    expectGanpoError(() => lm.forward(ids, { training: false }), 'DISPOSED', 'this');
  });

  it('clone() copies the weights into new variables and its dispose frees them', () => {
    const m = makeModel('sequential');
    const lm = causalLMFromLayersModel(m.model, { hiddenLayer: m.hiddenName });
    const ids = tf.tensor2d(IDS, [B, T], 'int32');
    live.push(lm, m.model, ids);
    const before = tf.memory().numTensors;
    const copy = lm.clone();
    const a = tf.tidy(() => lm.forward(ids, { training: false }));
    const b = tf.tidy(() => copy.forward(ids, { training: false }));
    expectClose(b.logits, Array.from(a.logits.dataSync()), { rtol: 0, atol: 0, label: 'logits' });
    expectClose(b.hidden, Array.from(a.hidden.dataSync()), { rtol: 0, atol: 0, label: 'hidden' });
    tf.dispose([a.logits, a.hidden, b.logits, b.hidden]);
    const own = new Set(lm.trainableVariables.map((v) => v.id));
    expect(copy.trainableVariables.some((v) => own.has(v.id))).toBe(false);
    // Training the copy does not move the original.
    const first = lm.trainableVariables[0] as tf.Variable;
    const original = Array.from(first.dataSync());
    const c0 = copy.trainableVariables[0] as tf.Variable;
    const moved = tf.add(c0, 1);
    c0.assign(moved);
    moved.dispose();
    expect(Array.from(first.dataSync())).toEqual(original);
    copy.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(first.isDisposed).toBe(false);
  });

  it('refuses a model whose output is softmax probabilities, naming the fix', () => {
    const m = makeModel('sequential', 'softmax');
    live.push(m.model);
    const err = expectGanpoError(
      () => causalLMFromLayersModel(m.model, { hiddenLayer: m.hiddenName }),
      'INVALID_ARGUMENT',
      'model',
    );
    expect(err.message).toContain("activation 'linear'");
  });

  it('refuses bad arguments with GanpoError codes and leaves no tensor behind', () => {
    const m = makeModel('sequential');
    live.push(m.model);
    expectGanpoError(
      () => causalLMFromLayersModel({} as tfl.LayersModel, { hiddenLayer: 'x' }),
      'INVALID_ARGUMENT',
      'model',
    );
    expectGanpoError(
      () => causalLMFromLayersModel(m.model, { hiddenLayer: 'nope' }),
      'INVALID_ARGUMENT',
      'name',
    );
    expectGanpoError(
      () => causalLMFromLayersModel(m.model, { hiddenLayer: 3 as unknown as string }),
      'INVALID_ARGUMENT',
      'options.hiddenLayer',
    );
    expectGanpoError(
      () => causalLMFromLayersModel(m.model, undefined as unknown as { hiddenLayer: string }),
      'INVALID_ARGUMENT',
      'options',
    );
  });

  it('a model whose output is not [B,T,V] is refused at forward, without leaking', () => {
    const u = uid++;
    const hidden = tfl.layers.dense({ units: H, activation: 'tanh', name: `hidden_${u}` });
    const model = tfl.sequential({
      layers: [
        tfl.layers.inputLayer({ inputShape: [T] }),
        tfl.layers.embedding({ inputDim: V, outputDim: E }),
        hidden,
        tfl.layers.flatten(),
        tfl.layers.dense({ units: V }),
      ],
    });
    const ids = tf.tensor2d(IDS, [B, T], 'int32');
    live.push(model, ids);
    const lm = causalLMFromLayersModel(model, { hiddenLayer: hidden.name });
    const err = expectGanpoError(() => lm.forward(ids, { training: false }), 'SHAPE_MISMATCH', 'model');
    expect(err.message).toContain('[2,3,V]');
    expect(err.received).toBe('[2,7]');
  });
});
