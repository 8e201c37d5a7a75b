import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  causalLMFromLayersModel,
  GanpoTrainer,
  type GanpoTrainerOptions,
  type LayersCausalLM,
  type PreferencePair,
  setLogger,
} from 'ganpo';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { registerWasmTrainingKernels } from '../src/ops/wasm-training-kernels';

import { expectGanpoError } from './support/helpers';

// `reference: 'initial'` (a weight snapshot of the policy, no second model) and the construction
// notice, on a tfjs-layers LM with an Embedding (so wasm needs its UnsortedSegmentSum).
registerWasmTrainingKernels();

const V = 9;
const H = 6;
let uid = 0;
function makeLM(): { lm: LayersCausalLM; model: tfl.LayersModel } {
  const u = uid++;
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({
        inputDim: V,
        outputDim: 8,
        embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 1 }),
        name: `emb_${u}`,
      }),
      tfl.layers.dense({
        units: H,
        activation: 'tanh',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
        name: `hidden_${u}`,
      }),
      tfl.layers.dense({
        units: V,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
        name: `out_${u}`,
      }),
    ],
  });
  model.build([null, null]);
  return { lm: causalLMFromLayersModel(model, { hiddenLayer: `hidden_${u}` }), model };
}

// Token 0 pads, 1 ends a sequence.
const PAIRS: PreferencePair[] = [
  { prompt: [2, 3], chosen: [4, 5], rejected: [6] },
  { prompt: [3], chosen: [7, 8, 4], rejected: [5, 5] },
  { prompt: [8, 2, 2], chosen: [3], rejected: [6, 7] },
  { prompt: [4], chosen: [2, 6], rejected: [8, 3, 3] },
];

function args(
  policy: LayersCausalLM,
  reference: GanpoTrainerOptions['model']['reference'],
): GanpoTrainerOptions {
  return {
    model: { policy, reference, latentDim: H },
    data: { collate: { padTokenId: 0, eosTokenId: 1 }, batchSize: 4 },
    training: { learningRate: 0.05, totalSteps: 3, warmupRatio: 0 },
    regularizer: { critic: { kind: 'mlp', hiddenDims: [8] }, seed: 5 },
  };
}

const live: { dispose: () => unknown }[] = [];
afterEach(() => {
  for (const d of live.splice(0).reverse()) d.dispose();
});

const values = (vs: tf.Variable[]) => vs.map((v) => Array.from(v.dataSync()));

describe("GanpoTrainer reference: 'initial'", () => {
  it('trains exactly as with a frozen clone, without a second model, and leaks nothing', () => {
    const a = makeLM();
    const b = makeLM();
    live.push(a.model, b.model);
    const copy = b.lm.clone();
    live.push(copy);
    const before = tf.memory().numTensors;
    const withSnapshot = new GanpoTrainer(args(a.lm, 'initial'));
    const withCopy = new GanpoTrainer(args(b.lm, copy));
    const counts: number[] = [];
    for (let step = 0; step < 3; step++) {
      const ma = withSnapshot.trainStep(PAIRS);
      const mb = withCopy.trainStep(PAIRS);
      expect(ma.skipped).toBe(false);
      expect(ma.loss).toBe(mb.loss);
      expect(ma['rewards/margins']).toBe(mb['rewards/margins']);
      expect(ma['ganpo/regularizer_loss']).toBe(mb['ganpo/regularizer_loss']);
      counts.push(tf.memory().numTensors);
    }
    expect(values(a.lm.trainableVariables)).toEqual(values(b.lm.trainableVariables));
    // The policy moved; the reference did not.
    const ids = tf.tensor2d([[2, 3, 4, 5]], [1, 4], 'int32');
    const ref = tf.tidy(
      () =>
        (withSnapshot.reference as NonNullable<typeof withSnapshot.reference>).forward(ids, {
          training: false,
        }).logits,
    );
    const frozen = tf.tidy(() => copy.forward(ids, { training: false }).logits);
    const moved = tf.tidy(() => a.lm.forward(ids, { training: false }).logits);
    expect(Array.from(ref.dataSync())).toEqual(Array.from(frozen.dataSync()));
    expect(Array.from(moved.dataSync())).not.toEqual(Array.from(frozen.dataSync()));
    // The policy has its trained weights back after a reference forward.
    expect(values(a.lm.trainableVariables)).toEqual(values(b.lm.trainableVariables));
    tf.dispose([ids, ref, frozen, moved]);
    expect(counts[2]).toBe(counts[1]);
    withSnapshot.dispose();
    withCopy.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses to run inside a gradient pass (a swap there would corrupt the gradient)', () => {
    const a = makeLM();
    live.push(a.model);
    const trainer = new GanpoTrainer(args(a.lm, 'initial'));
    live.push(trainer);
    const reference = trainer.reference as NonNullable<typeof trainer.reference>;
    const ids = tf.tensor2d([[2, 3]], [1, 2], 'int32');
    live.push(ids);
    let caught: unknown;
    try {
      tf.variableGrads(() => {
        try {
          return tf.sum(reference.forward(ids, { training: false }).logits) as tf.Scalar;
        } catch (e) {
          caught = e;
          return tf.mul(tf.sum(a.lm.trainableVariables[0] as tf.Variable), 0) as tf.Scalar;
        }
      }, a.lm.trainableVariables);
    } catch {
      // tfjs may complain about the zero gradient path; the reference's refusal is what matters.
    }
    expect((caught as { code?: string }).code).toBe('INVALID_STATE');
  });

  it('refuses TR-DPO reference syncing with a fixed snapshot', () => {
    const a = makeLM();
    live.push(a.model);
    expectGanpoError(
      () => new GanpoTrainer({ ...args(a.lm, 'initial'), referenceSync: {} }),
      'INVALID_OPTION',
      'referenceSync',
    );
  });

  it('refuses a policy without trainable variables', () => {
    const a = makeLM();
    live.push(a.model);
    const empty = { forward: a.lm.forward, trainableVariables: [] as tf.Variable[] };
    expectGanpoError(
      () => new GanpoTrainer({ ...args(a.lm, 'initial'), model: { policy: empty, latentDim: H } }),
      'INVALID_ARGUMENT',
      'model.policy',
    );
  });
});

describe('GanpoTrainer construction notice', () => {
  it("logs once, at its first step, how many parameters it trains (and the critics), through setLogger's channel; null silences", () => {
    const a = makeLM();
    live.push(a.model);
    const messages: string[] = [];
    const previous = setLogger((m, level) => messages.push(`${level}: ${m}`));
    try {
      const trainer = new GanpoTrainer(args(a.lm, 'initial'));
      live.push(trainer);
      // Nothing at construction: a trainer built only to precompute or evaluate trains nothing.
      expect(messages.length).toBe(0);
      trainer.trainStep(PAIRS);
      trainer.trainStep(PAIRS);
      expect(messages.length).toBe(1);
      // Embedding 9·8 + Dense 8·6+6 + Dense 6·9+9 = 72 + 54 + 63 = 189 parameters in 5 variables.
      expect(messages[0]).toContain('info: GanpoTrainer: training 189 parameters in 5 variables');
      // Two MLP critics 6→8→1: 2·(6·8+8 + 8·1+1) = 130 (spectral-norm vectors are not trainable).
      expect(messages[0]).toMatch(/discriminators: [\d,]+ parameters/);
      expect(messages[0]).toContain("reference: 'initial'");
      setLogger(null);
      const info = vi.spyOn(console, 'info').mockImplementation(() => {});
      const silent = new GanpoTrainer(args(a.lm, 'initial'));
      live.push(silent);
      silent.trainStep(PAIRS);
      expect(info).not.toHaveBeenCalled();
      setLogger(previous);
      const loud = new GanpoTrainer(args(a.lm, 'initial'));
      live.push(loud);
      loud.trainStep(PAIRS);
      expect(info).toHaveBeenCalledTimes(1);
      info.mockRestore();
      expect(messages.length).toBe(1);
    } finally {
      setLogger(previous);
    }
  });
});
