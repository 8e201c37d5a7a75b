// The small GanpoTrainer configuration the trainer tests share: the example tokenizer's collation,
// lr 1e-2, batch 4, 6 steps, an MLP critic (hidden 16, seed 7).
import { TinyLM } from '../../examples/tiny-lm';
import type { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import type { GanpoPreset } from '../../src/regularizer/preset';
import type { CausalLM, GanpoTrainerArgs } from '../../src/trainer/ganpo-trainer';

/** The trainer tests' policy: a TinyLM of width 16, 1 layer, 2 heads, over the tokenizer's vocabulary. */
export function smallPolicy(tok: CharTokenizer, seed = 1): TinyLM {
  return new TinyLM({ vocabSize: tok.vocabSize, maxSeqLen: 32, dim: 16, numLayers: 1, numHeads: 2, seed });
}

export function smallTrainerArgs(
  tok: CharTokenizer,
  hiddenSize: number,
  policy: CausalLM,
  reference: CausalLM | 'copy' | undefined,
  extra: Partial<GanpoTrainerArgs> = {},
  preset?: GanpoPreset,
): GanpoTrainerArgs {
  return {
    policy,
    reference,
    hiddenSize,
    collate: { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 32, vocabSize: tok.vocabSize },
    learningRate: 1e-2,
    batchSize: 4,
    totalSteps: 6,
    warmupRatio: 0,
    ganpo: { kind: 'mlp', discriminator: { hiddenDims: [16] }, seed: 7, ...(preset ? { preset } : {}) },
    ...extra,
  };
}
