// The GANPO overhead: one whole GanpoTrainer step with DPO + GANPO vs the same step with DPO alone,
// on the same small causal LM (the example TinyLM) and batch, measured round-robin in one process.
// Where the time goes is reported by phase: the extra policy forward that gives the discriminator
// step its latents, the discriminator step itself, and the rest (the adversarial term in the policy's
// backward pass).
import * as tf from '@tensorflow/tfjs-core';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../../examples/task';
import { TinyLM } from '../../examples/tiny-lm';
import type { PreferencePair } from '../../src/trainer/collate';
import { collatePreferencePairs, disposePreferenceBatch } from '../../src/trainer/collate';
import { GanpoTrainer, type GanpoTrainerArgs } from '../../src/trainer/ganpo-trainer';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { type BenchContext, type BenchRow, interleaved, useBackend } from '../util';

const BATCH = 16;
const MODEL = { maxSeqLen: 48, dim: 64, numLayers: 2, numHeads: 4, seed: 1 };

export default async function ganpoStep(ctx: BenchContext): Promise<BenchRow[]> {
  await useBackend('wasm');
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
  const variants = {
    dpo: make(false),
    mlp: make({ kind: 'mlp', discriminator: { hiddenDims: [64] }, seed: 1 }),
    transformer: make({
      discriminator: { hiddenDim: 64, numLayers: 1, numHeads: 4, ffnDim: 128, maxSeqLen: 48, dropout: 0.1 },
      seed: 1,
    }),
  };
  const step = (v: { trainer: GanpoTrainer }) => (): void => {
    v.trainer.trainStep(pairs); // reads metrics back: the step is complete when it returns
  };

  // Phases of the transformer-discriminator GANPO step, measured on their own.
  const batch = collatePreferencePairs(pairs, collate);
  const probe = (): void => {
    tf.tidy(() => {
      const c = variants.transformer.policy.forward(batch.chosen.inputIds, { training: true });
      const r = variants.transformer.policy.forward(batch.rejected.inputIds, { training: true });
      tf.stack([tf.sum(c.logits), tf.sum(r.logits), tf.sum(c.hidden), tf.sum(r.hidden)]).dataSync();
    });
  };
  const latents = tf.tidy(() => ({
    c: variants.transformer.policy.forward(batch.chosen.inputIds, { training: false }).hidden,
    r: variants.transformer.policy.forward(batch.rejected.inputIds, { training: false }).hidden,
  }));
  const reg = variants.transformer.trainer.regularizer as NonNullable<GanpoTrainer['regularizer']>;
  const dStep = (): void => {
    reg.discriminatorStep({
      policyChosen: latents.c,
      policyRejected: latents.r,
      referenceChosen: latents.c,
      referenceRejected: latents.r,
      chosenMask: batch.chosen.attentionMask,
      rejectedMask: batch.rejected.attentionMask,
    });
  };

  const [tDpo, tMlp, tTr, tProbe, tD] = await interleaved(
    [step(variants.dpo), step(variants.mlp), step(variants.transformer), probe, dStep],
    ctx.runs,
    ctx.warmup,
  );
  tf.dispose([latents.c, latents.r]);
  disposePreferenceBatch(batch);
  for (const v of Object.values(variants)) {
    v.trainer.dispose();
    v.policy.dispose();
  }
  reference.dispose();
  base.dispose();
  if (!tDpo || !tMlp || !tTr || !tProbe || !tD) return [];
  const shape = `TinyLM d${MODEL.dim} L${MODEL.numLayers}, B${BATCH} pairs, T≤48`;
  const rest = tTr.median - tDpo.median - tProbe.median - tD.median;
  return [
    { suite: 'ganpo-step', name: `DPO step (${shape})`, backend: 'wasm', timing: tDpo },
    {
      suite: 'ganpo-step',
      name: 'DPO + GANPO step, MLP discriminators',
      backend: 'wasm',
      timing: tMlp,
      extra: { 'overhead ratio': (tMlp.median / tDpo.median).toFixed(2) },
    },
    {
      suite: 'ganpo-step',
      name: 'DPO + GANPO step, transformer discriminators (h64, 1 layer)',
      backend: 'wasm',
      timing: tTr,
      extra: {
        'overhead ratio': (tTr.median / tDpo.median).toFixed(2),
        'extra policy forward ms': tProbe.median.toFixed(1),
        'discriminator step ms': tD.median.toFixed(1),
        'adversarial term in backward ms': rest.toFixed(1),
      },
    },
  ];
}
