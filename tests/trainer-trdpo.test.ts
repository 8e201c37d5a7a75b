// GanpoTrainer's TRL options: TR-DPO reference sync, disable_dropout, precompute_ref_batch_size.
import * as tf from '@tensorflow/tfjs-core';
import { type CausalLM, GanpoTrainer, type GanpoTrainerOptions, type PreferencePair } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../examples/task';
import { TinyLM } from '../examples/tiny-lm';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';

import { expectClose, expectGanpoError } from './support/helpers';
import { smallTrainerArgs, type TrainerOverrides } from './support/trainer-args';

const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
const splits = makeTaskSplits({ seed: 3, trainSize: 24, testSize: 4, shiftedSize: 4 });
const pairs: PreferencePair[] = encodePairs(tok, splits.train);
const DIM = 16;

function lm(seed: number, dropout = 0): TinyLM {
  return new TinyLM({
    vocabSize: tok.vocabSize,
    maxSeqLen: 32,
    dim: DIM,
    numLayers: 1,
    numHeads: 2,
    seed,
    dropout,
  });
}

function args(
  policy: CausalLM,
  reference: CausalLM | 'copy' | undefined,
  extra: TrainerOverrides = {},
): GanpoTrainerOptions {
  return smallTrainerArgs(tok, DIM, policy, reference, extra);
}

const weights = (m: CausalLM): Float32Array[] =>
  m.trainableVariables.map((v) => v.dataSync().slice() as Float32Array);
const batchAt = (step: number): PreferencePair[] => pairs.slice(4 * step, 4 * step + 4);

/** A CausalLM that delegates to `inner` and records every forward call. */
function recording(inner: CausalLM) {
  const calls: { batch: number; training: boolean; hidden?: Float32Array; ids?: tf.Tensor2D }[] = [];
  const model: CausalLM = {
    trainableVariables: inner.trainableVariables,
    forward: (ids, o) => {
      const out = inner.forward(ids, o);
      calls.push({
        batch: ids.shape[0],
        training: o.training,
        hidden: out.hidden.dataSync().slice() as Float32Array,
        ids: tf.keep(tf.clone(ids)),
      });
      return out;
    },
  };
  const clear = () => {
    for (const c of calls) c.ids?.dispose();
    calls.length = 0;
  };
  return { model, calls, clear };
}

describe('GanpoTrainer TR-DPO (referenceSync)', () => {
  it("updates the reference as α·θ + (1−α)·θ_ref after every k-th step only (TRL's on_step_end schedule)", () => {
    const policy = lm(1);
    const reference = policy.clone();
    const alpha = 0.6;
    const trainer = new GanpoTrainer(args(policy, reference, { referenceSync: { syncSteps: 2 } }));
    let ref = weights(reference);
    for (let step = 0; step < 4; step++) {
      trainer.trainStep(batchAt(step));
      const pol = weights(policy);
      const got = weights(reference);
      if ((step + 1) % 2 === 0) {
        // Independent float32 arithmetic of TRL's target.mul_(1 − α).add_(θ, alpha=α).
        const want = ref.map((r, i) =>
          r.map((x, j) =>
            Math.fround(
              Math.fround(x * (1 - alpha)) + Math.fround(((pol[i] as Float32Array)[j] as number) * alpha),
            ),
          ),
        );
        got.forEach((g, i) => {
          expectClose(g, want[i] as Float32Array, {
            rtol: 1e-6,
            atol: 1e-7,
            label: `step ${step + 1} ref[${i}]`,
          });
        });
        ref = got;
      } else {
        expect(got, `step ${step + 1}: no sync`).toEqual(ref);
      }
    }
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  });

  it('the next step uses the synced reference: its log-probs (rewards 0 after a hard sync) and its GANPO latents', () => {
    const policy = lm(2);
    const inner = policy.clone();
    const rec = recording(inner);
    const trainer = new GanpoTrainer(
      args(policy, rec.model, { referenceSync: { syncSteps: 1, mixupAlpha: 1 } }),
    );
    trainer.trainStep(batchAt(0));
    const snapshot = policy.clone(); // the policy after step 1 = the reference after the hard sync
    expect(weights(inner)).toEqual(weights(snapshot));
    rec.clear();
    const m = trainer.trainStep(batchAt(1));
    // Reference log-probs are the policy's own (same weights, dropout off): β·(π − π_ref) = 0.
    expect(m['rewards/chosen']).toBe(0);
    expect(m['rewards/rejected']).toBe(0);
    // The reference latents the step used are those of the synced weights.
    expect(rec.calls.length).toBeGreaterThanOrEqual(2);
    for (const c of rec.calls) {
      const want = tf.tidy(() =>
        snapshot
          .forward(c.ids as tf.Tensor2D, { training: false })
          .hidden.dataSync()
          .slice(),
      );
      expectClose(c.hidden as Float32Array, want, { rtol: 0, atol: 0, label: 'reference latents' });
    }
    rec.clear();
    trainer.dispose();
    for (const x of [policy, inner, snapshot]) x.dispose();
  });

  it('stateDict → loadStateDict → continue equals an uninterrupted run, reference weights included', () => {
    const opts = { referenceSync: { syncSteps: 2, mixupAlpha: 0.3 } };
    const a = lm(4);
    const aRef = a.clone();
    const whole = new GanpoTrainer(args(a, aRef, opts));
    for (let s = 0; s < 4; s++) whole.trainStep(batchAt(s));

    const b = lm(4);
    const bRef = b.clone();
    const first = new GanpoTrainer(args(b, bRef, opts));
    for (let s = 0; s < 3; s++) first.trainStep(batchAt(s));
    const saved = JSON.parse(JSON.stringify(first.stateDict()));
    expect(saved.reference).toHaveLength(bRef.trainableVariables.length);
    first.dispose();
    const c = lm(99);
    const cRef = lm(98);
    const resumed = new GanpoTrainer(args(c, cRef, opts));
    resumed.loadStateDict(saved);
    resumed.trainStep(batchAt(3));
    expect(weights(c)).toEqual(weights(a));
    expect(weights(cRef)).toEqual(weights(aRef));
    // A checkpoint with reference weights does not load into a trainer without TR-DPO, and back.
    const d = lm(5);
    const plain = new GanpoTrainer(args(d, d.clone()));
    expectGanpoError(() => plain.loadStateDict(saved), 'STATE_DICT_MISMATCH', 'state.reference');
    const noRef = JSON.parse(JSON.stringify(plain.stateDict()));
    expectGanpoError(() => resumed.loadStateDict(noRef), 'STATE_DICT_MISMATCH', 'state.reference');
    for (const t of [whole, resumed, plain]) t.dispose();
    for (const m of [a, aRef, b, bRef, c, cRef, d]) m.dispose();
  });

  it('refuses what cannot work, before building anything', () => {
    const policy = lm(6);
    const reference = policy.clone();
    const before = tf.memory().numTensors;
    expectGanpoError(
      () => new GanpoTrainer(args(policy, undefined, { referenceSync: {} })),
      'INVALID_OPTION',
      'referenceSync',
    );
    expectGanpoError(
      () => new GanpoTrainer(args(policy, reference, { referenceSync: { mixupAlpha: 0 } })),
      'OUT_OF_RANGE',
      'referenceSync.mixupAlpha',
    );
    expectGanpoError(
      () => new GanpoTrainer(args(policy, reference, { referenceSync: { syncSteps: 0.5 } })),
      'OUT_OF_RANGE',
      'referenceSync.syncSteps',
    );
    expectGanpoError(
      () => new GanpoTrainer(args(policy, reference, { referenceSync: 'yes' as never })),
      'INVALID_ARGUMENT',
      'referenceSync',
    );
    const other = new TinyLM({
      vocabSize: tok.vocabSize,
      maxSeqLen: 32,
      dim: 8,
      numLayers: 1,
      numHeads: 2,
      seed: 1,
    });
    const otherCount = tf.memory().numTensors;
    expectGanpoError(
      () => new GanpoTrainer(args(policy, other, { model: { latentDim: DIM }, referenceSync: {} })),
      'SHAPE_MISMATCH',
    );
    expect(tf.memory().numTensors).toBe(otherCount);
    other.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const trainer = new GanpoTrainer(args(policy, reference, { referenceSync: {} }));
    expectGanpoError(() => trainer.precomputeReference(pairs), 'INVALID_STATE');
    expectGanpoError(() => trainer.setReferenceCache([]), 'INVALID_STATE');
    trainer.setReferenceCache(null);
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  });
});

describe('GanpoTrainer disableDropout and precomputeRefBatchSize', () => {
  it("runs the policy with training: false by default (TRL's disable_dropout), with true when told, the reference always false", () => {
    for (const disableDropout of [undefined, false]) {
      const base = lm(7, 0.5);
      const baseRef = base.clone();
      const rec = recording(base);
      const refRec = recording(baseRef);
      const trainer = new GanpoTrainer(
        args(rec.model, refRec.model, disableDropout === undefined ? {} : { training: { disableDropout } }),
      );
      trainer.trainStep(batchAt(0));
      expect(rec.calls.length).toBeGreaterThan(0);
      expect(new Set(rec.calls.map((c) => c.training))).toEqual(new Set([disableDropout === false]));
      expect(new Set(refRec.calls.map((c) => c.training))).toEqual(new Set([false]));
      rec.clear();
      refRec.clear();
      trainer.dispose();
      base.dispose();
      baseRef.dispose();
    }
  });

  it('without dropout two runs from the same weights are identical; with dropout 0.5 they are not', () => {
    const run = (disableDropout: boolean) => {
      const p = lm(8, 0.5);
      const r = p.clone();
      const t = new GanpoTrainer(args(p, r, { training: { disableDropout }, regularizer: false }));
      t.trainStep(batchAt(0));
      const w = weights(p);
      t.dispose();
      p.dispose();
      r.dispose();
      return w;
    };
    expect(run(true)).toEqual(run(true));
    expect(run(false)).not.toEqual(run(false));
  });

  it('precomputeReference runs precomputeRefBatchSize pairs per forward (default batchSize)', () => {
    for (const [size, want] of [
      [undefined, 4],
      [8, 8],
    ] as const) {
      const policy = lm(9);
      const inner = policy.clone();
      const refRec = recording(inner);
      const trainer = new GanpoTrainer(
        args(policy, refRec.model, size === undefined ? {} : { data: { precomputeRefBatchSize: size } }),
      );
      const cache = trainer.precomputeReference(pairs);
      expect(cache).toHaveLength(pairs.length);
      expect(new Set(refRec.calls.map((c) => c.batch))).toEqual(new Set([want]));
      refRec.clear();
      trainer.dispose();
      policy.dispose();
      inner.dispose();
    }
    const policy = lm(10);
    expectGanpoError(
      () => new GanpoTrainer(args(policy, 'copy', { data: { precomputeRefBatchSize: 0 } })),
      'OUT_OF_RANGE',
      'data.precomputeRefBatchSize',
    );
    policy.dispose();
  });
});
