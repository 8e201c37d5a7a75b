// The GANPO overhead: one whole GanpoTrainer step with DPO + GANPO vs the same step with DPO alone,
// on the same small causal LM (the example TinyLM) and batch, measured round-robin in one process.
// Before/after of reusing the policy forward's latents for the discriminator step (the trainer's
// default with no gradient accumulation) vs a separate no-grad forward, and the D step's share of the step.
// Ratios are per round (variants run back to back), median ± MAD. Also: the transformer critic under
// both presets, and every step with the step-overhead levers off (STEP_LEVERS_OFF: fused AdamW,
// spectral-norm kernels, off-tape constants, frozen critic, wasm dropout masks, shared saves, no
// input gradient in the critics' first layers, the critics' small matMuls in ganpo's SIMD kernel)
// for their before/after, and the transformer step with that matMul kernel alone off.
import * as tf from '@tensorflow/tfjs-core';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../../examples/task';
import { TinyLM } from '../../examples/tiny-lm';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import { kernelFlags } from '../../src/ops/kernel-flags';
import type { PreferencePair } from '../../src/trainer/collate';
import { collatePreferencePairs, disposePreferenceBatch } from '../../src/trainer/collate';
import { GanpoTrainer, type GanpoTrainerOptions } from '../../src/trainer/ganpo-trainer';
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
/** kernelFlags of the step-overhead levers, off (the "before" of the step-overhead rows). */
export const STEP_LEVERS_OFF = {
  wasmAdamW: false,
  wasmPowerIteration: false,
  wasmSpectralScale: false,
  offTapeConstants: false,
  frozenWeightGradients: false,
  wasmDropoutMask: false,
  sharedClones: false,
  constantInputs: false,
  wasmMatMul: false,
};
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
  const make = (ganpo: GanpoTrainerOptions['regularizer']): { trainer: GanpoTrainer; policy: TinyLM } => {
    const policy = base.clone();
    const trainer = new GanpoTrainer({
      model: { policy, reference, latentDim: MODEL.dim },
      data: { collate, batchSize: BATCH },
      training: { learningRate: 1e-4, totalSteps: 10_000 },
      regularizer: ganpo,
    });
    return { trainer, policy };
  };
  const critic = { hiddenDim: 64, numLayers: 1, numHeads: 4, ffnDim: 128, maxSeqLen: 48, dropout: 0.1 };
  // The library default (preset 'recommended': pair critics, paired feature matching) unless named.
  const variants = {
    dpo: make(false),
    mlp: make({ critic: { kind: 'mlp', hiddenDims: [64] }, seed: 1 }),
    transformer: make({ critic, seed: 1 }),
    transformerOfficial: make({ critic, seed: 1, preset: 'official' }),
    transformerBatched: make({ critic: { ...critic, attentionImpl: 'batched' }, seed: 1 }),
    // The default preset with each critic called once per side on its concatenated sets.
    transformerBatchedScoring: make({ critic, seed: 1, scoring: 'batched' }),
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
  // The same step with the step-overhead levers off: AdamW, spectral-norm power iteration and K/σ as
  // tfjs ops, constants of the loss recorded on the tape, saved tensors copied, the critics' input
  // gradient computed (what the step ran before them).
  const withFlags = (flags: Partial<typeof kernelFlags>, f: () => void) => (): void => {
    const saved = { ...kernelFlags };
    Object.assign(kernelFlags, flags);
    try {
      f();
    } finally {
      Object.assign(kernelFlags, saved);
    }
  };
  const withoutLevers = (f: () => void) => withFlags(STEP_LEVERS_OFF, f);

  // The transformer-discriminator D step on its own (the largest GANPO phase).
  const batch = collatePreferencePairs(pairs, collate);
  const latents = tf.tidy(() => ({
    c: variants.transformer.policy.forward(batch.chosen.inputIds, { training: false }).hidden,
    r: variants.transformer.policy.forward(batch.rejected.inputIds, { training: false }).hidden,
  }));
  const reg = variants.transformer.trainer.regularizer as NonNullable<GanpoTrainer['regularizer']>;
  const dStepOf = (r: typeof reg) => (): void => {
    r.discriminatorStep({
      policyChosenLatents: latents.c,
      policyRejectedLatents: latents.r,
      referenceChosenLatents: latents.c,
      referenceRejectedLatents: latents.r,
      chosenMask: batch.chosen.attentionMask,
      rejectedMask: batch.rejected.attentionMask,
    });
  };
  const dStep = dStepOf(reg);
  // The same D step with batched tfjs attention, what wasm 'auto' ran here before the fused kernel.
  const dStepBatched = dStepOf(
    variants.transformerBatched.trainer.regularizer as NonNullable<GanpoTrainer['regularizer']>,
  );
  // The same D step with batched scoring (one critic call per side).
  const dStepBatchedScoring = dStepOf(
    variants.transformerBatchedScoring.trainer.regularizer as NonNullable<GanpoTrainer['regularizer']>,
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
      step(variants.transformerOfficial),
      withoutLevers(step(variants.dpo)),
      withoutLevers(step(variants.mlp)),
      withoutLevers(step(variants.transformer)),
      withoutLevers(step(variants.transformerOfficial)),
      step(variants.transformerBatchedScoring),
      dStepBatchedScoring,
      withFlags({ wasmMatMul: false }, step(variants.transformer)),
    ],
    // small-kernel steps: more rounds than the default, the per-round ratios are noisy
    ctx.quick ? ctx.runs : Math.max(ctx.runs, 20),
    ctx.warmup,
  );
  const mem = {
    dpo: await peakMemory(step(variants.dpo)),
    mlp: await peakMemory(step(variants.mlp)),
    transformer: await peakMemory(step(variants.transformer)),
    official: await peakMemory(step(variants.transformerOfficial)),
  };
  tf.dispose([latents.c, latents.r]);
  disposePreferenceBatch(batch);
  dispose();
  const [tDpo, tMlp, tMlpOld, tTr, tTrOld, tD, tDb, tTrB, tOff, tDpoL, tMlpL, tTrL, tOffL, tTrP, tDP, tTrX] =
    timings as Timing[] as [
      Timing,
      Timing,
      Timing,
      Timing,
      Timing,
      Timing,
      Timing,
      Timing,
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
      name: "DPO + GANPO step, transformer discriminators (h64, 1 layer), preset 'recommended' (default)",
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
    {
      suite: 'ganpo-step',
      name: "DPO + GANPO step, transformer discriminators, preset 'official'",
      backend: 'wasm',
      timing: tOff,
      extra: { 'vs DPO step': ratio(8), ...mb(mem.official) },
    },
    {
      suite: 'ganpo-step',
      name: 'DPO step — step levers off (AdamW, spectral norm as tfjs ops; constants on the tape)',
      backend: 'wasm',
      timing: tDpoL,
      extra: { 'after / before': ratio(0, 9) },
    },
    {
      suite: 'ganpo-step',
      name: 'DPO + GANPO step, MLP discriminators — step levers off',
      backend: 'wasm',
      timing: tMlpL,
      extra: { 'vs DPO step (levers off)': ratio(10, 9), 'after / before': ratio(1, 10) },
    },
    {
      suite: 'ganpo-step',
      name: "DPO + GANPO step, transformer discriminators, 'recommended' — step levers off",
      backend: 'wasm',
      timing: tTrL,
      extra: { 'vs DPO step (levers off)': ratio(11, 9), 'after / before': ratio(3, 11) },
    },
    {
      suite: 'ganpo-step',
      name: "DPO + GANPO step, transformer discriminators, 'official' — step levers off",
      backend: 'wasm',
      timing: tOffL,
      extra: { 'vs DPO step (levers off)': ratio(12, 9), 'after / before': ratio(8, 12) },
    },
    {
      suite: 'ganpo-step',
      name: "DPO + GANPO step, transformer discriminators, 'recommended' — batched scoring (one critic call per side)",
      backend: 'wasm',
      timing: tTrP,
      extra: { 'vs DPO step': ratio(13), 'batched / per-set': ratio(13, 3) },
    },
    {
      suite: 'ganpo-step',
      name: 'same D step alone, batched scoring (one critic call per side)',
      backend: 'wasm',
      timing: tDP,
      extra: { 'vs DPO step': ratio(14), 'batched / per-set': ratio(14, 5) },
    },
    {
      suite: 'ganpo-step',
      name: "DPO + GANPO step, transformer discriminators, 'recommended' — critics' matMuls on XNNPACK (ganpo's SIMD matMul off)",
      backend: 'wasm',
      timing: tTrX,
      extra: { 'vs DPO step': ratio(15), 'after / before': ratio(3, 15) },
    },
  ];
}
