// The GANPO overhead: one whole GanpoTrainer step with DPO + GANPO vs the same step with DPO alone,
// on the same small causal LM (the example TinyLM) and batch, measured round-robin in one process.
// Before/after of reusing the policy forward's latents for the discriminator step (the trainer's
// default with no gradient accumulation) vs a separate no-grad forward, and the D step's share of the step.
// Ratios are per round (variants run back to back), median ± MAD.
import * as tf from '@tensorflow/tfjs-core';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../../examples/task';
import { TinyLM } from '../../examples/tiny-lm';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import type { PreferencePair } from '../../src/trainer/collate';
import { collatePreferencePairs, disposePreferenceBatch } from '../../src/trainer/collate';
import { GanpoTrainer, type GanpoTrainerArgs } from '../../src/trainer/ganpo-trainer';
import { trainerFlags } from '../../src/trainer/step';
import {
  type BenchContext,
  type BenchRow,
  interleavedAsync,
  peakMemory,
  ratioStats,
  type Timing,
  useBackend,
} from '../util';

const BATCH = 16;
const MODEL = { maxSeqLen: 48, dim: 64, numLayers: 2, numHeads: 4, seed: 1 };

/** The demo-model trainers the suite (and bench/profile-ganpo-step.ts) compare, on one batch. */
export function makeGanpoStepSetup() {
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const pairs: PreferencePair[] = encodePairs(
    tok,
    makeTaskSplits({ seed: 1, trainSize: BATCH, testSize: 1, shiftedSize: 1 }).train,
  );
  const collate = { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 48, vocabSize: tok.vocabSize };
  const base = new TinyLM({ vocabSize: tok.vocabSize, ...MODEL });
  const reference = base.clone();
  const make = (ganpo: GanpoTrainerArgs['ganpo']): { trainer: GanpoTrainer; policy: TinyLM } => {
    const policy = base.clone();
    const trainer = new GanpoTrainer({
      policy,
      reference,
      hiddenSize: MODEL.dim,
      collate,
      learningRate: 1e-4,
      batchSize: BATCH,
      totalSteps: 10_000,
      ganpo,
    });
    return { trainer, policy };
  };
  const critic = { hiddenDim: 64, numLayers: 1, numHeads: 4, ffnDim: 128, maxSeqLen: 48, dropout: 0.1 };
  // The library default (preset 'recommended': pair critics, paired feature matching) unless named.
  const variants = {
    dpo: make(false),
    mlp: make({ kind: 'mlp', discriminator: { hiddenDims: [64] }, seed: 1 }),
    transformer: make({ discriminator: critic, seed: 1 }),
    transformerOfficial: make({ discriminator: critic, seed: 1, preset: 'official' }),
    transformerBatched: make({ discriminator: { ...critic, attentionImpl: 'batched' }, seed: 1 }),
  };
  const dispose = (): void => {
    for (const v of Object.values(variants)) {
      v.trainer.dispose();
      v.policy.dispose();
    }
    reference.dispose();
    base.dispose();
  };
  return { pairs, collate, variants, dispose };
}

export default async function ganpoStep(ctx: BenchContext): Promise<BenchRow[]> {
  await useBackend('wasm');
  const { pairs, collate, variants, dispose } = makeGanpoStepSetup();
  // reuse = the D step takes the latents of the policy's one forward (the default); otherwise the
  // separate no-grad policy forward of before (trainerFlags.reuseForwardLatents = false).
  const step =
    (v: { trainer: GanpoTrainer }, reuse = true) =>
    (): void => {
      trainerFlags.reuseForwardLatents = reuse;
      try {
        v.trainer.trainStep(pairs); // reads metrics back: the step is complete when it returns
      } finally {
        trainerFlags.reuseForwardLatents = true;
      }
    };

  // The transformer-discriminator D step on its own (the largest GANPO phase).
  const batch = collatePreferencePairs(pairs, collate);
  const latents = tf.tidy(() => ({
    c: variants.transformer.policy.forward(batch.chosen.inputIds, { training: false }).hidden,
    r: variants.transformer.policy.forward(batch.rejected.inputIds, { training: false }).hidden,
  }));
  const reg = variants.transformer.trainer.regularizer as NonNullable<GanpoTrainer['regularizer']>;
  const dStepOf = (r: typeof reg) => (): void => {
    r.discriminatorStep({
      policyChosen: latents.c,
      policyRejected: latents.r,
      referenceChosen: latents.c,
      referenceRejected: latents.r,
      chosenMask: batch.chosen.attentionMask,
      rejectedMask: batch.rejected.attentionMask,
    });
  };
  const dStep = dStepOf(reg);
  // The same D step with batched tfjs attention, what wasm 'auto' ran here before the fused kernel.
  const dStepBatched = dStepOf(
    variants.transformerBatched.trainer.regularizer as NonNullable<GanpoTrainer['regularizer']>,
  );

  const { timings, samples } = await interleavedAsync(
    [
      step(variants.dpo),
      step(variants.mlp),
      step(variants.mlp, false),
      step(variants.transformer),
      step(variants.transformer, false),
      dStep,
      dStepBatched,
      step(variants.transformerBatched),
    ],
    ctx.runs,
    ctx.warmup,
  );
  const mem = {
    dpo: await peakMemory(step(variants.dpo)),
    mlp: await peakMemory(step(variants.mlp)),
    transformer: await peakMemory(step(variants.transformer)),
  };
  tf.dispose([latents.c, latents.r]);
  disposePreferenceBatch(batch);
  dispose();
  const [tDpo, tMlp, tMlpOld, tTr, tTrOld, tD, tDb, tTrB] = timings as [
    Timing,
    Timing,
    Timing,
    Timing,
    Timing,
    Timing,
    Timing,
    Timing,
  ];
  const s = samples as number[][];
  const shape = `TinyLM d${MODEL.dim} L${MODEL.numLayers}, B${BATCH} pairs, T≤48`;
  const ratio = (i: number, j = 0): string => {
    const r = ratioStats(s[i] as number[], s[j] as number[]);
    return `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)}`;
  };
  const mb = (m: { peakMB: string; workingSetMB: string }): Record<string, string> => ({
    'peak MB': m.peakMB,
    'working set MB': m.workingSetMB,
  });
  return [
    { suite: 'ganpo-step', name: `DPO step (${shape})`, backend: 'wasm', timing: tDpo, extra: mb(mem.dpo) },
    {
      suite: 'ganpo-step',
      name: 'DPO + GANPO step, MLP discriminators',
      backend: 'wasm',
      timing: tMlp,
      extra: { 'vs DPO step': ratio(1), ...mb(mem.mlp) },
    },
    {
      suite: 'ganpo-step',
      name: 'DPO + GANPO step, MLP discriminators — before (separate no-grad forward for the D step)',
      backend: 'wasm',
      timing: tMlpOld,
      extra: { 'vs DPO step': ratio(2), 'after / before': ratio(1, 2) },
    },
    {
      suite: 'ganpo-step',
      name: 'DPO + GANPO step, transformer discriminators (h64, 1 layer)',
      backend: 'wasm',
      timing: tTr,
      extra: {
        'vs DPO step': ratio(3),
        'discriminator step share': `${((100 * tD.median) / tTr.median).toFixed(0)}%`,
        ...mb(mem.transformer),
      },
    },
    {
      suite: 'ganpo-step',
      name: 'DPO + GANPO step, transformer discriminators — before (separate no-grad forward)',
      backend: 'wasm',
      timing: tTrOld,
      extra: { 'vs DPO step': ratio(4), 'after / before': ratio(3, 4) },
    },
    {
      suite: 'ganpo-step',
      name: 'transformer discriminators: D step alone (both D, 3 sets each)',
      backend: 'wasm',
      timing: tD,
      extra: { 'vs DPO step': ratio(5) },
    },
    {
      suite: 'ganpo-step',
      name: "same D step, batched tfjs attention (wasm 'auto' before the fused kernel)",
      backend: 'wasm',
      timing: tDb,
      extra: { 'fused / batched': ratio(5, 6) },
    },
    {
      suite: 'ganpo-step',
      name: 'DPO + GANPO step, transformer discriminators — batched tfjs attention (before the fused kernel)',
      backend: 'wasm',
      timing: tTrB,
      extra: { 'vs DPO step': ratio(7), 'after / before': ratio(3, 7) },
    },
  ];
}
