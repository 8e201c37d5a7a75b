// The cost of value validation: the same GANPO + DPO trainer step (MLP discriminators, the demo's
// TinyLM) at validation level 'full' (value checks: finiteness, 0/1 masks, ranges — each a read-back
// that waits for the backend) vs 'shapes' (shape/dtype checks only, no read-back), interleaved.
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../../examples/task';
import { TinyLM } from '../../examples/tiny-lm';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import { setValidationLevel } from '../../src/core/config';
import type { PreferencePair } from '../../src/trainer/collate';
import { GanpoTrainer } from '../../src/trainer/ganpo-trainer';
import { type BenchContext, type BenchRow, interleavedAsync, ratioStats, useBackend } from '../util';

export default async function validation(ctx: BenchContext): Promise<BenchRow[]> {
  await useBackend('wasm');
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const pairs: PreferencePair[] = encodePairs(
    tok,
    makeTaskSplits({ seed: 1, trainSize: 16, testSize: 1, shiftedSize: 1 }).train,
  );
  const model = { maxSeqLen: 48, dim: 64, numLayers: 2, numHeads: 4, seed: 1 };
  const policy = new TinyLM({ vocabSize: tok.vocabSize, ...model });
  const reference = policy.clone();
  const trainer = new GanpoTrainer({
    model: { policy, reference, latentDim: model.dim },
    data: {
      collate: { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 48, vocabSize: tok.vocabSize },
      batchSize: 16,
    },
    training: { learningRate: 1e-4, totalSteps: 10_000 },
    regularizer: { critic: { kind: 'mlp', hiddenDims: [64] }, seed: 1 },
  });
  const at = (level: 'full' | 'shapes') => (): void => {
    setValidationLevel(level);
    try {
      trainer.trainStep(pairs);
    } finally {
      setValidationLevel('shapes');
    }
  };
  const { timings, samples } = await interleavedAsync([at('shapes'), at('full')], ctx.runs, ctx.warmup);
  trainer.dispose();
  policy.dispose();
  reference.dispose();
  const r = ratioStats(samples[1] as number[], samples[0] as number[]);
  return [
    {
      suite: 'validation',
      name: "GANPO + DPO step (MLP discriminators), validation 'shapes'",
      backend: 'wasm',
      timing: timings[0],
    },
    {
      suite: 'validation',
      name: "same step, validation 'full' (default)",
      backend: 'wasm',
      timing: timings[1],
      extra: { "vs 'shapes'": `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)}` },
    },
  ];
}
