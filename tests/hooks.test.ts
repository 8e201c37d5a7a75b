import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  AdamW,
  findLayer,
  GanpoRegularizer,
  ganpoLoss,
  LatentView,
  LayerOutputHook,
  relativisticGeneratorLoss,
} from 'ganpo';
import { afterEach, describe, expect, it } from 'vitest';

import { expectClose, expectGanpoError } from './support/helpers';

// A tiny causal-LM-shaped policy: one-hot tokens [B,T,V] → tanh hidden [B,T,H] (the latent) →
// vocabulary logits [B,T,V]. One-hot float inputs instead of tf.layers.embedding, whose gather
// gradient needs UnsortedSegmentSum, which tfjs-backend-wasm 4.22 does not implement.
const B = 2;
const T = 4;
const V = 5;
const H = 6;

let uid = 0;
const n = (s: string): string => `hooks_${s}_${uid++}`;

/** A custom layer with its own weights: y = tanh(x·W + b); records the `training` flag it sees. */
class TanhBlock extends tfl.layers.Layer {
  static className = 'GanpoTestTanhBlock';
  kernel!: tfl.LayerVariable;
  bias!: tfl.LayerVariable;
  lastTraining: unknown = undefined;
  constructor(
    private readonly units: number,
    name: string,
  ) {
    super({ name });
  }
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = inputShape as tfl.Shape;
    const inDim = shape[shape.length - 1] as number;
    this.kernel = this.addWeight(
      'kernel',
      [inDim, this.units],
      'float32',
      tfl.initializers.glorotUniform({ seed: 3 }),
    );
    this.bias = this.addWeight('bias', [this.units], 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = inputShape as tfl.Shape;
    return [...shape.slice(0, -1), this.units];
  }
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    this.lastTraining = kwargs.training;
    const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
    return tf.tidy(() => {
      const flat = tf.reshape(x, [-1, x.shape[x.rank - 1] as number]);
      const y = tf.tanh(tf.add(tf.matMul(flat, this.kernel.read()), this.bias.read()));
      return tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
    });
  }
}

interface Policy {
  kind: string;
  model: tfl.LayersModel;
  /** The layer whose output is the latent. */
  latent: tfl.layers.Layer;
  /** Names of the weights the latent depends on (they must receive gradient). */
  upstream: string[];
}

const dense = (units: number, name: string, activation?: 'tanh' | 'relu') =>
  tfl.layers.dense({
    units,
    name,
    activation,
    kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }),
  });

function makePolicy(kind: 'sequential' | 'functional' | 'nested' | 'custom'): Policy {
  if (kind === 'sequential') {
    const hidden = dense(H, n('hidden'), 'tanh');
    const model = tfl.sequential({
      layers: [tfl.layers.inputLayer({ inputShape: [T, V] }), hidden, dense(V, n('logits'))],
    });
    return { kind, model, latent: hidden, upstream: hidden.trainableWeights.map((w) => w.name) };
  }
  if (kind === 'functional') {
    const input = tfl.input({ shape: [T, V] });
    const pre = dense(H, n('pre'), 'relu');
    const hidden = dense(H, n('hidden'), 'tanh');
    const h0 = pre.apply(input) as tfl.SymbolicTensor;
    const h = hidden.apply(h0) as tfl.SymbolicTensor;
    const logits = dense(V, n('logits')).apply(tfl.layers.add().apply([h, h0]) as tfl.SymbolicTensor);
    const model = tfl.model({ inputs: input, outputs: logits as tfl.SymbolicTensor });
    return {
      kind,
      model,
      latent: hidden,
      upstream: [...pre.trainableWeights, ...hidden.trainableWeights].map((w) => w.name),
    };
  }
  if (kind === 'nested') {
    const hidden = dense(H, n('hidden'), 'tanh');
    const inner = tfl.sequential({
      name: n('decoder'),
      layers: [tfl.layers.inputLayer({ inputShape: [T, V] }), dense(H, n('inner_pre'), 'relu'), hidden],
    });
    const input = tfl.input({ shape: [T, V] });
    const logits = dense(V, n('logits')).apply(inner.apply(input) as tfl.SymbolicTensor);
    const model = tfl.model({ inputs: input, outputs: logits as tfl.SymbolicTensor });
    return {
      kind,
      model,
      latent: findLayer(model, hidden.name),
      upstream: inner.trainableWeights.map((w) => w.name),
    };
  }
  const block = new TanhBlock(H, n('block'));
  const model = tfl.sequential({
    layers: [tfl.layers.inputLayer({ inputShape: [T, V] }), block, dense(V, n('logits'))],
  });
  return { kind, model, latent: block, upstream: block.trainableWeights.map((w) => w.name) };
}

const vars = (m: tfl.LayersModel): tf.Variable[] => m.trainableWeights.map((w) => w.read() as tf.Variable);

/** Asserts two gradient maps agree on every variable (same forward, different latent extraction). */
function expectSameGrads(a: tf.NamedTensorMap, b: tf.NamedTensorMap, variables: tf.Variable[]): void {
  for (const v of variables) {
    expectClose(a[v.name] as tf.Tensor, Array.from((b[v.name] as tf.Tensor).dataSync()), {
      rtol: 1e-5,
      atol: 1e-7,
      label: v.name,
    });
  }
}

/** A tiny fixed critic over latents: c(h) = mean_t (h_t · w), scores [B]. */
function critic(h: tf.Tensor, w: tf.Tensor1D): tf.Tensor1D {
  return tf.mean(tf.sum(tf.mul(h, w), -1), -1) as tf.Tensor1D;
}

/** LM loss + latent (relativistic generator) loss against fixed reference latents. */
function totalLoss(
  logits: tf.Tensor,
  h: tf.Tensor,
  labels: tf.Tensor,
  ref: tf.Tensor,
  w: tf.Tensor1D,
): tf.Scalar {
  const lm = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), labels), -1)));
  const adv = relativisticGeneratorLoss({ real: critic(ref, w), fake: critic(h, w) });
  return tf.add(lm, adv) as tf.Scalar;
}

function fixedData() {
  const ids = [
    [0, 3, 1, 4],
    [2, 2, 0, 1],
  ];
  const next = [
    [3, 1, 4, 0],
    [2, 0, 1, 3],
  ];
  const oneHot = (a: number[][]) =>
    tf.tidy(() => tf.cast(tf.oneHot(tf.tensor2d(a, [B, T], 'int32'), V), 'float32'));
  const x = oneHot(ids);
  const labels = oneHot(next);
  const ref = tf.tidy(() => tf.tanh(tf.randomNormal([B, T, H], 0, 1, 'float32', 11)));
  const w = tf.tensor1d([0.5, -0.3, 0.8, 0.1, -0.6, 0.2]);
  return { x, labels, ref, w };
}

const KINDS = ['sequential', 'functional', 'nested', 'custom'] as const;
const live: { dispose: () => unknown }[] = [];
afterEach(() => {
  for (const d of live.splice(0)) d.dispose();
});

describe('LayerOutputHook (call interception)', () => {
  it.each(KINDS)(
    '%s: gradients of LM + latent loss reach the weights and equal a direct two-output pass',
    (kind) => {
      const p = makePolicy(kind);
      const d = fixedData();
      live.push(p.model, d.x, d.labels, d.ref, d.w);
      const hook = new LayerOutputHook(p.latent);
      const hooked = tf.variableGrads(() => {
        const logits = p.model.apply(d.x, { training: true }) as tf.Tensor;
        return totalLoss(logits, hook.last as tf.Tensor, d.labels, d.ref, d.w);
      }, vars(p.model));
      expect(hook.outputs.length).toBe(1);
      expect(hook.last?.shape).toEqual([B, T, H]);
      hook.remove();
      if (p.latent instanceof TanhBlock) expect(p.latent.lastTraining).toBe(true);

      // Independent path: the latent loss alone must move exactly the upstream weights.
      const hook2 = new LayerOutputHook(p.latent);
      const latentOnly = tf.variableGrads(() => {
        const logits = p.model.apply(d.x, { training: true }) as tf.Tensor;
        const zero = tf.mul(tf.sum(logits), 0);
        return tf.add(
          zero,
          relativisticGeneratorLoss({ real: critic(d.ref, d.w), fake: critic(hook2.last as tf.Tensor, d.w) }),
        ) as tf.Scalar;
      }, vars(p.model));
      hook2.remove();
      for (const v of vars(p.model)) {
        const g = latentOnly.grads[v.name] as tf.Tensor;
        const mag = tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0] as number);
        if (p.upstream.includes(v.name)) expect(mag, `${v.name} gets latent gradient`).toBeGreaterThan(1e-6);
        else expect(mag, `${v.name} is downstream of the latent`).toBe(0);
      }

      // The same gradients with the latent computed by re-running the layers by hand on the same weights
      // (only possible here because we know the architecture): the hook must not change the graph.
      const direct = tf.variableGrads(() => {
        const logits = p.model.apply(d.x, { training: true }) as tf.Tensor;
        let h: tf.Tensor;
        if (kind === 'nested') {
          const inner = p.model.layers.find((l) => l instanceof tfl.LayersModel) as tfl.LayersModel;
          h = inner.apply(d.x, { training: true }) as tf.Tensor;
        } else if (kind === 'functional') {
          const pre = p.model.layers[1] as tfl.layers.Layer;
          h = p.latent.apply(pre.apply(d.x, { training: true }), { training: true }) as tf.Tensor;
        } else {
          h = p.latent.apply(d.x, { training: true }) as tf.Tensor;
        }
        return totalLoss(logits, h, d.labels, d.ref, d.w);
      }, vars(p.model));
      expectClose(hooked.value, direct.value.dataSync()[0] as number, { rtol: 1e-6, atol: 1e-7 });
      expectSameGrads(hooked.grads, direct.grads, vars(p.model));
      for (const r of [hooked, latentOnly, direct]) tf.dispose([r.value, ...Object.values(r.grads)]);
    },
  );

  it.each(KINDS)('%s: 50 AdamW steps leak nothing and the loss goes down', (kind) => {
    const p = makePolicy(kind);
    const d = fixedData();
    const opt = new AdamW({ learningRate: 0.02 });
    live.push(p.model, d.x, d.labels, d.ref, d.w, opt);
    const hook = new LayerOutputHook(p.latent);
    const losses: number[] = [];
    let after1 = 0;
    for (let step = 0; step < 50; step++) {
      const { value, grads } = tf.variableGrads(() => {
        const logits = p.model.apply(d.x, { training: true }) as tf.Tensor;
        return totalLoss(logits, hook.last as tf.Tensor, d.labels, d.ref, d.w);
      }, vars(p.model));
      opt.applyGradients(grads);
      losses.push(value.dataSync()[0] as number);
      tf.dispose([value, ...Object.values(grads)]);
      hook.clear();
      // The optimizer allocates its moments on the first step; nothing may accumulate afterwards.
      if (step === 0) after1 = tf.memory().numTensors;
      else expect(tf.memory().numTensors, `step ${step}`).toBe(after1);
    }
    hook.remove();
    expect(tf.memory().numTensors).toBe(after1);
    expect(losses[49]).toBeLessThan(losses[0] as number);
  });

  it('restores the layer exactly; inference-mode captures survive tfjs-layers disposal; refuses a second hook', () => {
    const p = makePolicy('nested');
    const d = fixedData();
    live.push(p.model, d.x, d.labels, d.ref, d.w);
    const before = p.model.predict(d.x) as tf.Tensor;
    const hook = new LayerOutputHook(p.latent);
    expect(Object.hasOwn(p.latent, 'call')).toBe(true);
    expectGanpoError(() => new LayerOutputHook(p.latent), 'INVALID_ARGUMENT', 'layer');
    // training: false makes tfjs-layers dispose intermediates as it goes; the capture is a kept clone.
    const out = p.model.apply(d.x, { training: false }) as tf.Tensor;
    expect(hook.last?.isDisposed).toBe(false);
    expect(hook.last?.shape).toEqual([B, T, H]);
    const count = tf.memory().numTensors;
    hook.remove();
    expect(tf.memory().numTensors).toBe(count - 1);
    expect(hook.active).toBe(false);
    expect(Object.hasOwn(p.latent, 'call')).toBe(false);
    const afterRemove = p.model.predict(d.x) as tf.Tensor;
    expectClose(afterRemove, Array.from(before.dataSync()), { rtol: 0, atol: 0 });
    hook.remove();
    const again = new LayerOutputHook(p.latent);
    again.remove();
    expectGanpoError(() => new LayerOutputHook({} as tfl.layers.Layer), 'INVALID_ARGUMENT', 'layer');
    expectGanpoError(() => findLayer(p.model, 'no_such_layer'), 'INVALID_ARGUMENT', 'name');
    tf.dispose([before, out, afterRemove]);
  });
});

describe('LatentView (functional multi-output view)', () => {
  it.each(['sequential', 'functional', 'custom'] as const)(
    '%s: same outputs and gradients as the hook, and disposing the view keeps the weights',
    (kind) => {
      const p = makePolicy(kind);
      const d = fixedData();
      live.push(p.model, d.x, d.labels, d.ref, d.w);
      const view = new LatentView(p.model, p.latent.name);
      const viaView = tf.variableGrads(() => {
        const { outputs, latents } = view.apply(d.x);
        return totalLoss(outputs[0] as tf.Tensor, latents[0] as tf.Tensor, d.labels, d.ref, d.w);
      }, vars(p.model));
      const hook = new LayerOutputHook(p.latent);
      const viaHook = tf.variableGrads(() => {
        const logits = p.model.apply(d.x, { training: true }) as tf.Tensor;
        return totalLoss(logits, hook.last as tf.Tensor, d.labels, d.ref, d.w);
      }, vars(p.model));
      hook.remove();
      expectClose(viaView.value, viaHook.value.dataSync()[0] as number, { rtol: 1e-6, atol: 1e-7 });
      expectSameGrads(viaView.grads, viaHook.grads, vars(p.model));
      for (const v of vars(p.model)) {
        if (p.upstream.includes(v.name)) {
          expect(
            tf.tidy(() => tf.max(tf.abs(viaView.grads[v.name] as tf.Tensor)).dataSync()[0]),
          ).toBeGreaterThan(0);
        }
      }
      if (p.latent instanceof TanhBlock) expect(p.latent.lastTraining).toBe(true);
      for (const r of [viaView, viaHook]) tf.dispose([r.value, ...Object.values(r.grads)]);

      const count = tf.memory().numTensors;
      view.dispose();
      expect(tf.memory().numTensors).toBe(count);
      for (const v of vars(p.model)) expect(v.isDisposed).toBe(false);
      const y = p.model.predict(d.x) as tf.Tensor;
      expect(y.shape).toEqual([B, T, V]);
      y.dispose();
      expectGanpoError(() => view.apply(d.x), 'DISPOSED');
    },
  );

  it('functional: 50 AdamW steps through the view leak nothing', () => {
    const p = makePolicy('functional');
    const d = fixedData();
    const opt = new AdamW({ learningRate: 0.02 });
    live.push(p.model, d.x, d.labels, d.ref, d.w, opt);
    const view = new LatentView(p.model, [p.latent]);
    let after1 = 0;
    for (let step = 0; step < 50; step++) {
      const { value, grads } = tf.variableGrads(() => {
        const { outputs, latents } = view.apply(d.x, { training: true });
        return totalLoss(outputs[0] as tf.Tensor, latents[0] as tf.Tensor, d.labels, d.ref, d.w);
      }, vars(p.model));
      opt.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
      if (step === 0) after1 = tf.memory().numTensors;
      else expect(tf.memory().numTensors, `step ${step}`).toBe(after1);
    }
    view.dispose();
  });

  it('refuses unknown layers and layers of nested models', () => {
    const p = makePolicy('nested');
    live.push(p.model);
    expectGanpoError(() => new LatentView(p.model, 'nope'), 'INVALID_ARGUMENT', 'layers');
    expectGanpoError(() => new LatentView(p.model, p.latent), 'INVALID_ARGUMENT', 'layers');
    expectGanpoError(() => new LatentView(p.model, []), 'INVALID_ARGUMENT', 'layers');
    expectGanpoError(() => new LatentView({} as tfl.LayersModel, 'x'), 'INVALID_ARGUMENT', 'model');
  });
});

describe('ganpoLoss through the hooks (the way a user wires GANPO into a tfjs-layers model)', () => {
  // A fixed "reference model" latent set and a chosen/rejected split of the batch rows.
  const lmLoss = (logits: tf.Tensor, labels: tf.Tensor): tf.Scalar =>
    tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), labels), -1))) as tf.Scalar;

  it.each(KINDS)('%s: gradients reach the upstream weights and 50 GANPO steps leak nothing', (kind) => {
    const p = makePolicy(kind);
    const d = fixedData();
    const reg = new GanpoRegularizer({
      latentDim: H,
      critic: { kind: 'mlp', hiddenDims: [8] },
      seed: 3,
      preset: 'official',
    });
    const opt = new AdamW({ learningRate: 0.02 });
    live.push(p.model, d.x, d.labels, d.ref, d.w, reg, opt);
    const hook = new LayerOutputHook(p.latent);
    let after1 = 0;
    for (let step = 0; step < 50; step++) {
      // 1. latents of this batch without gradient, then the discriminator step (official order).
      tf.tidy(() => {
        p.model.apply(d.x, { training: true });
      });
      const h = hook.last as tf.Tensor3D;
      reg.discriminatorStep({
        policyChosenLatents: h,
        policyRejectedLatents: h,
        referenceChosenLatents: d.ref as tf.Tensor3D,
        referenceRejectedLatents: d.ref as tf.Tensor3D,
      });
      hook.clear();
      // 2. the policy step: LM loss as the preference stand-in, plus the adversarial term.
      const { value, grads } = tf.variableGrads(() => {
        const logits = p.model.apply(d.x, { training: true }) as tf.Tensor;
        const latent = hook.last as tf.Tensor3D;
        const out = ganpoLoss({
          regularizer: reg,
          preference: lmLoss(logits, d.labels),
          policyChosenLatents: latent,
          policyRejectedLatents: latent,
          referenceChosenLatents: d.ref as tf.Tensor3D,
          referenceRejectedLatents: d.ref as tf.Tensor3D,
        });
        return out.loss;
      }, vars(p.model));
      if (step === 0) {
        for (const v of vars(p.model)) {
          if (!p.upstream.includes(v.name)) continue;
          const mag = tf.tidy(() => tf.max(tf.abs(grads[v.name] as tf.Tensor)).dataSync()[0] as number);
          expect(mag, `${v.name} gets gradient`).toBeGreaterThan(0);
        }
      }
      opt.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
      hook.clear();
      if (step === 0) after1 = tf.memory().numTensors;
      else expect(tf.memory().numTensors, `step ${step}`).toBe(after1);
    }
    hook.remove();
  });

  it.each(['sequential', 'functional'] as const)(
    '%s: the LatentView gives the same GANPO gradients as the hook',
    (kind) => {
      const p = makePolicy(kind);
      const d = fixedData();
      const reg = new GanpoRegularizer({
        latentDim: H,
        critic: { kind: 'mlp', hiddenDims: [8] },
        seed: 4,
        preset: 'official',
      });
      live.push(p.model, d.x, d.labels, d.ref, d.w, reg);
      reg.discriminatorStep({
        policyChosenLatents: d.ref as tf.Tensor3D,
        policyRejectedLatents: d.ref as tf.Tensor3D,
        referenceChosenLatents: d.ref as tf.Tensor3D,
        referenceRejectedLatents: d.ref as tf.Tensor3D,
      });
      const view = new LatentView(p.model, p.latent.name);
      const viaView = tf.variableGrads(() => {
        const { outputs, latents } = view.apply(d.x);
        const h = latents[0] as tf.Tensor3D;
        return ganpoLoss({
          regularizer: reg,
          preference: lmLoss(outputs[0] as tf.Tensor, d.labels),
          policyChosenLatents: h,
          policyRejectedLatents: h,
          referenceChosenLatents: d.ref as tf.Tensor3D,
          referenceRejectedLatents: d.ref as tf.Tensor3D,
        }).loss;
      }, vars(p.model));
      const hook = new LayerOutputHook(p.latent);
      const viaHook = tf.variableGrads(() => {
        const logits = p.model.apply(d.x, { training: true }) as tf.Tensor;
        const h = hook.last as tf.Tensor3D;
        return ganpoLoss({
          regularizer: reg,
          preference: lmLoss(logits, d.labels),
          policyChosenLatents: h,
          policyRejectedLatents: h,
          referenceChosenLatents: d.ref as tf.Tensor3D,
          referenceRejectedLatents: d.ref as tf.Tensor3D,
        }).loss;
      }, vars(p.model));
      hook.remove();
      expectSameGrads(viaView.grads, viaHook.grads, vars(p.model));
      for (const r of [viaView, viaHook]) tf.dispose([r.value, ...Object.values(r.grads)]);
      view.dispose();
    },
  );
});
