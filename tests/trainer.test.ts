import * as tf from '@tensorflow/tfjs-core';
import {
  type CausalLM,
  GanpoTrainer,
  type GanpoTrainerOptions,
  type PreferenceObjective,
  type PreferencePair,
  type TrainerMetrics,
} from 'ganpo';
import { describe, expect, it } from 'vitest';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../examples/task';
import type { TinyLM } from '../examples/tiny-lm';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';

import { resolveObjective } from '../src/trainer/objective';
import { trainerFlags } from '../src/trainer/step';
import { expectClose, expectGanpoError } from './support/helpers';
import { smallPolicy, smallTrainerArgs, type TrainerOverrides } from './support/trainer-args';

const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
const splits = makeTaskSplits({ seed: 3, trainSize: 24, testSize: 8, shiftedSize: 4 });
const pairs: PreferencePair[] = encodePairs(tok, splits.train);
const testPairs: PreferencePair[] = encodePairs(tok, splits.test);
const DIM = 16;

function models(seed = 1): { policy: TinyLM; reference: TinyLM } {
  const policy = smallPolicy(tok, seed);
  return { policy, reference: policy.clone() };
}

function trainerArgs(
  policy: CausalLM,
  reference: CausalLM | 'copy' | undefined,
  extra: TrainerOverrides = {},
): GanpoTrainerOptions {
  return smallTrainerArgs(tok, DIM, policy, reference, extra, 'official');
}

/** Wraps a policy so that, once poisoned, one of its outputs is all NaN (a non-finite batch). */
function poisonable(
  policy: CausalLM,
  field: 'logits' | 'hidden',
): { model: CausalLM; setPoison: (on: boolean) => void } {
  let poison = false;
  const model: CausalLM = {
    trainableVariables: policy.trainableVariables,
    forward: (ids, o) => {
      const out = policy.forward(ids, o);
      if (!poison) return out;
      const bad = tf.mul(out[field], Number.NaN) as tf.Tensor3D;
      out[field].dispose();
      return { ...out, [field]: bad };
    },
  };
  return {
    model,
    setPoison: (on) => {
      poison = on;
    },
  };
}

const weights = (m: CausalLM): number[][] => m.trainableVariables.map((v) => Array.from(v.dataSync()));

const METRIC_KEYS = [
  'loss',
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'rewards/margins',
  'logps/chosen',
  'logps/rejected',
  'logits/chosen',
  'logits/rejected',
  'learning_rate',
  'grad_norm',
];
const GANPO_KEYS = [
  'ganpo/regularizer_loss',
  'ganpo/discriminator_loss_chosen',
  'ganpo/discriminator_loss_rejected',
  'ganpo/divergence',
  'ganpo/critic_accuracy_chosen',
  'ganpo/critic_accuracy_rejected',
  'ganpo/drift',
];

describe('GanpoTrainer', () => {
  it("default preset ('recommended'): trains with finite GANPO metrics, critic AdamW at 2 × the policy lr, β (0, 0.9)", async () => {
    const { policy, reference } = models();
    const trainer = new GanpoTrainer(
      trainerArgs(policy, reference, { regularizer: { critic: { kind: 'mlp', hiddenDims: [16] }, seed: 7 } }),
    );
    expect(trainer.regularizer?.generator).toBe('relative-feature-matching');
    const history = await trainer.train(pairs, { steps: 2 });
    for (const m of history) {
      for (const k of [...METRIC_KEYS, ...GANPO_KEYS]) {
        expect(Number.isFinite(m[k as keyof TrainerMetrics] as number), k).toBe(true);
      }
      expect(m['ganpo/drift']).toBeGreaterThanOrEqual(0);
    }
    const opt = trainer.regularizer?.optimizer as unknown as {
      learningRate: number;
      beta1: number;
      beta2: number;
    };
    expect([opt.learningRate, opt.beta1, opt.beta2]).toEqual([2 * (history[1]?.learning_rate ?? 0), 0, 0.9]);
    trainer.dispose();
  });

  for (const objective of [{ kind: 'dpo', beta: 0.1 }, { kind: 'simpo' }, { kind: 'orpo' }] as const) {
    for (const ganpo of [true, false]) {
      it(`trains ${objective.kind} ${ganpo ? 'with' : 'without'} GANPO: finite metrics with TRL's keys`, async () => {
        const { policy, reference } = models();
        const before = weights(policy);
        const seen: TrainerMetrics[] = [];
        const trainer = new GanpoTrainer(
          trainerArgs(policy, reference, {
            ...(ganpo ? {} : { regularizer: false as const }),
            objective: objective,
            logging: { onStep: (m) => seen.push(m) },
          }),
        );
        const history = await trainer.train(pairs, { steps: 2 });
        expect(history).toHaveLength(2);
        expect(seen).toHaveLength(2);
        for (const m of history) {
          expect(m.skipped).toBe(false);
          for (const k of [...METRIC_KEYS, ...(ganpo ? GANPO_KEYS : [])]) {
            const v = (m as unknown as Record<string, number>)[k];
            expect(Number.isFinite(v), `${k} = ${v}`).toBe(true);
          }
          if (!ganpo) expect(m['ganpo/regularizer_loss']).toBeUndefined();
        }
        expect(weights(policy)).not.toEqual(before);
        const ev = trainer.evaluate(testPairs);
        expect(Number.isFinite(ev.eval_loss)).toBe(true);
        expect(ev['eval_rewards/accuracies']).toBeGreaterThanOrEqual(0);
        trainer.dispose();
        policy.dispose();
        reference.dispose();
      });
    }
  }

  it('k micro-batches of gradient accumulation equal one batch k times larger', () => {
    const run = (k: number): { w: number[][]; m: TrainerMetrics } => {
      const { policy, reference } = models(2);
      const trainer = new GanpoTrainer(
        trainerArgs(policy, reference, { training: { gradientAccumulationSteps: k } }),
      );
      const m = trainer.trainStep(pairs.slice(0, 4));
      const w = weights(policy);
      trainer.dispose();
      policy.dispose();
      reference.dispose();
      return { w, m };
    };
    const one = run(1);
    const two = run(2);
    const four = run(4);
    // k = 1 without reusing the forward's latents: the separate no-grad forward of before.
    trainerFlags.reuseForwardLatents = false;
    let probe: { w: number[][]; m: TrainerMetrics };
    try {
      probe = run(1);
    } finally {
      trainerFlags.reuseForwardLatents = true;
    }
    expect(probe.m.loss).toBe(one.m.loss);
    expect(probe.w).toEqual(one.w);
    for (const other of [two, four]) {
      expectClose(other.m.loss, one.m.loss, { rtol: 1e-5, atol: 1e-6, label: 'loss' });
      expectClose(other.m.grad_norm, one.m.grad_norm, { rtol: 1e-4, atol: 1e-6, label: 'grad_norm' });
      expectClose(
        other.m['ganpo/discriminator_loss_chosen'] as number,
        one.m['ganpo/discriminator_loss_chosen'] as number,
        {
          rtol: 1e-6,
          label: 'D loss',
        },
      );
      // Summing k micro-batch gradients rounds differently from one batch; Adam's first step divides
      // by |g|, so weights whose gradient is ~0 can move by a different fraction of lr (1e-2).
      other.w.forEach((w, i) => {
        expectClose(w, one.w[i] as number[], { rtol: 1e-4, atol: 1e-5, label: `weight ${i}` });
      });
    }
  });

  it('checkpoint → restore → continue equals an uninterrupted run exactly', async () => {
    const a = models(3);
    const uninterrupted = new GanpoTrainer(trainerArgs(a.policy, a.reference));
    await uninterrupted.train(pairs, { steps: 4 });
    const wantPolicy = weights(a.policy);
    const wantD = uninterrupted.regularizer?.stateDict();

    const b = models(3);
    const first = new GanpoTrainer(trainerArgs(b.policy, b.reference));
    await first.train(pairs, { steps: 2 });
    const saved = JSON.parse(JSON.stringify(first.stateDict()));
    first.dispose();
    // A fresh process: new models (new variable names), new trainer, then restore.
    const c = models(99);
    const resumed = new GanpoTrainer(trainerArgs(c.policy, b.reference));
    resumed.loadStateDict(saved);
    expect(resumed.step).toBe(2);
    await resumed.train(pairs, { steps: 2 });
    expect(weights(c.policy)).toEqual(wantPolicy);
    const gotD = resumed.regularizer?.stateDict();
    expect(gotD?.discriminators).toEqual(wantD?.discriminators);
    expect(gotD?.means).toEqual(wantD?.means);
    for (const t of [uninterrupted, resumed]) t.dispose();
    for (const m of [a.policy, a.reference, b.policy, b.reference, c.policy, c.reference]) m.dispose();
  });

  it('skips a batch with non-finite values without changing anything', () => {
    const { policy, reference } = models(4);
    const { model: poisoned, setPoison } = poisonable(policy, 'logits');
    const trainer = new GanpoTrainer(trainerArgs(poisoned, reference));
    trainer.trainStep(pairs.slice(0, 4));
    const w = weights(policy);
    const d = trainer.regularizer?.stateDict();
    const opt = trainer.optimizer.stateDict();
    setPoison(true);
    const tensorsBefore = tf.memory().numTensors;
    const m = trainer.trainStep(pairs.slice(4, 8));
    expect(m.skipped).toBe(true);
    expect(tf.memory().numTensors, 'a skipped step leaves no tensor behind').toBe(tensorsBefore);
    expect(trainer.step).toBe(1);
    expect(weights(policy)).toEqual(w);
    const dAfter = trainer.regularizer?.stateDict();
    expect(dAfter?.means).toEqual(d?.means);
    expect(dAfter?.steps).toEqual(d?.steps);
    expect(dAfter?.optimizer).toEqual(d?.optimizer);
    expect(dAfter?.discriminators).toEqual(d?.discriminators);
    expect(trainer.optimizer.stateDict()).toEqual(opt);
    setPoison(false);
    expect(trainer.trainStep(pairs.slice(4, 8)).skipped).toBe(false);
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  });

  it('with GANPO and k = 1, one policy forward per side and step (the D step reuses its latents)', () => {
    for (const k of [1, 2]) {
      const { policy, reference } = models(6);
      let calls = 0;
      const counted: CausalLM = {
        trainableVariables: policy.trainableVariables,
        forward: (ids, o) => {
          calls += 1;
          return policy.forward(ids, o);
        },
      };
      const trainer = new GanpoTrainer(
        trainerArgs(counted, reference, { training: { gradientAccumulationSteps: k } }),
      );
      expect(trainer.trainStep(pairs.slice(0, 4)).skipped).toBe(false);
      // k = 1: chosen + rejected inside the gradient pass. k > 1: a whole-batch no-grad forward
      // (2 calls) for the D step, then 2 per micro-batch.
      expect(calls).toBe(k === 1 ? 2 : 2 + 2 * k);
      trainer.dispose();
      policy.dispose();
      reference.dispose();
    }
  });

  it('skips a non-finite batch under gradient accumulation too, leaking nothing', () => {
    const { policy, reference } = models(4);
    const { model: poisoned, setPoison } = poisonable(policy, 'hidden');
    for (const k of [1, 2]) {
      const trainer = new GanpoTrainer(
        trainerArgs(poisoned, reference, { training: { gradientAccumulationSteps: k } }),
      );
      setPoison(false);
      trainer.trainStep(pairs.slice(0, 4));
      const w = weights(policy);
      const d = trainer.regularizer?.stateDict();
      setPoison(true);
      const before = tf.memory().numTensors;
      const m = trainer.trainStep(pairs.slice(4, 8));
      expect(tf.memory().numTensors).toBe(before);
      expect(m.skipped).toBe(true);
      expect(weights(policy)).toEqual(w);
      expect(trainer.regularizer?.stateDict()).toEqual(d);
      trainer.dispose();
    }
    policy.dispose();
    reference.dispose();
  });

  it('a precomputed reference gives the same steps as the live reference model', () => {
    const live = models(5);
    const cached = models(5);
    const tLive = new GanpoTrainer(trainerArgs(live.policy, live.reference));
    const tPre = new GanpoTrainer(trainerArgs(cached.policy, cached.reference));
    const cache = tPre.precomputeReference(pairs);
    expect(cache).toHaveLength(pairs.length);
    tPre.setReferenceCache(cache);
    const idx = [3, 7, 1, 12];
    const batch = idx.map((i) => pairs[i] as PreferencePair);
    const mLive = tLive.trainStep(batch);
    const mPre = tPre.trainStep(batch, idx);
    for (const k of [...METRIC_KEYS, ...GANPO_KEYS]) {
      const a = (mLive as unknown as Record<string, number>)[k] as number;
      const b = (mPre as unknown as Record<string, number>)[k] as number;
      expectClose(b, a, { rtol: 1e-5, atol: 1e-6, label: k });
    }
    // Cached latents were computed in other batches (other padding); float32 rounding differs by
    // ~1e-7, which Adam's first step can turn into a fraction of lr (1e-2) on ~0 gradients.
    weights(cached.policy).forEach((w, i) => {
      expectClose(w, weights(live.policy)[i] as number[], { rtol: 1e-4, atol: 1e-5, label: `weight ${i}` });
    });
    for (const t of [tLive, tPre]) t.dispose();
    for (const m of [live.policy, live.reference, cached.policy, cached.reference]) m.dispose();
  });

  it('leaks no tensor over 50 steps', async () => {
    const { policy, reference } = models(6);
    const trainer = new GanpoTrainer(trainerArgs(policy, reference, { training: { totalSteps: 51 } }));
    await trainer.train(pairs, { steps: 1 });
    const before = tf.memory().numTensors;
    await trainer.train(pairs, { steps: 50 });
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  });

  it("refuses the former objective spelling { type }, another kind's options and unknown kinds", () => {
    expect(resolveObjective('t', { kind: 'orpo', beta: 0.2 })).toEqual({ kind: 'orpo', beta: 0.2 });
    const legacy = { type: 'simpo', beta: 2 } as unknown as PreferenceObjective;
    expectGanpoError(() => resolveObjective('t', legacy), 'INVALID_OPTION', 'objective.kind');
    const withType = { kind: 'dpo', type: 'dpo' } as unknown as PreferenceObjective;
    const e = expectGanpoError(() => resolveObjective('t', withType), 'INVALID_OPTION', 'objective.type');
    expect(e.expected).toContain("'kind'");
    const foreign = { kind: 'orpo', gammaBetaRatio: 0.5 } as unknown as PreferenceObjective;
    expectGanpoError(() => resolveObjective('t', foreign), 'INVALID_OPTION', 'objective.gammaBetaRatio');
    const unknown = { kind: 'ipo' } as unknown as PreferenceObjective;
    expectGanpoError(() => resolveObjective('t', unknown), 'INVALID_OPTION', 'objective.kind');
  });

  it('rejects bad arguments with GanpoErrors', () => {
    const { policy, reference } = models(7);
    expectGanpoError(
      () => new GanpoTrainer(trainerArgs(policy, policy)),
      'INVALID_ARGUMENT',
      'model.reference',
    );
    expectGanpoError(
      () => new GanpoTrainer(trainerArgs(policy, reference, { training: { learningRate: 0 } })),
      'OUT_OF_RANGE',
      'training.learningRate',
    );
    expectGanpoError(
      () => new GanpoTrainer(trainerArgs(policy, reference, { training: { gradientAccumulationSteps: 3 } })),
      'INVALID_OPTION',
      'training.gradientAccumulationSteps',
    );
    const t = new GanpoTrainer(trainerArgs(policy, reference));
    expectGanpoError(() => t.trainStep(pairs.slice(0, 3)), 'SHAPE_MISMATCH', 'pairs');
    t.dispose();
    policy.dispose();
    reference.dispose();
  });
});

describe('GanpoTrainer non-finite discriminator', () => {
  it('a non-finite discriminator loss skips the step without touching the policy or its optimizer', () => {
    const { policy, reference } = models(8);
    const trainer = new GanpoTrainer(trainerArgs(policy, reference));
    trainer.trainStep(pairs.slice(0, 4));
    const w = weights(policy);
    const opt = trainer.optimizer.stateDict();
    // Break one critic weight: its scores, hence the discriminator loss, become NaN.
    const dv = trainer.regularizer?.discriminators.chosen.trainableVariables[0] as tf.Variable;
    const nan = tf.fill(dv.shape, Number.NaN);
    dv.assign(nan);
    nan.dispose();
    const before = tf.memory().numTensors;
    const m = trainer.trainStep(pairs.slice(4, 8));
    expect(m.skipped).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    expect(trainer.step).toBe(1);
    expect(weights(policy)).toEqual(w);
    expect(trainer.optimizer.stateDict()).toEqual(opt);
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  });
});

describe("GanpoTrainer reference: 'copy'", () => {
  it('copies the policy like an explicit clone, and frees only its own copy', () => {
    const a = models(9);
    const b = models(9);
    const before = tf.memory().numTensors;
    const explicit = new GanpoTrainer(trainerArgs(a.policy, a.reference));
    const copied = new GanpoTrainer(trainerArgs(b.policy, 'copy'));
    expect(copied.reference).not.toBe(b.policy);
    const mA = explicit.trainStep(pairs.slice(0, 4));
    const mB = copied.trainStep(pairs.slice(0, 4));
    expect(mB.loss).toBe(mA.loss);
    expect(weights(b.policy)).toEqual(weights(a.policy));
    explicit.dispose();
    copied.dispose();
    expect(b.policy.trainableVariables.every((v) => !v.isDisposed)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    const noClone: CausalLM = {
      forward: (ids, o) => b.policy.forward(ids, o),
      trainableVariables: b.policy.trainableVariables,
    };
    expectGanpoError(
      () => new GanpoTrainer(trainerArgs(noClone, 'copy')),
      'INVALID_OPTION',
      'model.reference',
    );
    expect(tf.memory().numTensors).toBe(before);
    for (const m of [a.policy, a.reference, b.policy, b.reference]) m.dispose();
  });
});

describe('reference cache on disk', () => {
  it('round-trips exactly through safetensors bytes and trains the same step', async () => {
    const { referenceCacheFromBytes, referenceCacheToBytes } = await import('ganpo');
    const a = models(10);
    const b = models(10);
    const tA = new GanpoTrainer(trainerArgs(a.policy, a.reference));
    const cache = tA.precomputeReference(pairs);
    const bytes = referenceCacheToBytes(cache);
    const restored = referenceCacheFromBytes(bytes);
    expect(restored).toEqual(cache);
    tA.setReferenceCache(cache);
    const tB = new GanpoTrainer(trainerArgs(b.policy, undefined));
    tB.setReferenceCache(restored);
    const idx = [0, 5, 9, 2];
    const batch = idx.map((i) => pairs[i] as PreferencePair);
    expect(tB.trainStep(batch, idx).loss).toBe(tA.trainStep(batch, idx).loss);
    expect(weights(b.policy)).toEqual(weights(a.policy));
    expectGanpoError(() => referenceCacheToBytes([]), 'INVALID_ARGUMENT', 'entries');
    for (const t of [tA, tB]) t.dispose();
    for (const m of [a.policy, a.reference, b.policy, b.reference]) m.dispose();
  });
});
