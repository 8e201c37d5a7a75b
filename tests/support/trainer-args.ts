// The small GanpoTrainer configuration the trainer tests share: the example tokenizer's collation,
// lr 1e-2, batch 4, 6 steps, an MLP critic (hidden 16, seed 7).
import type { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import type { GanpoPreset } from '../../src/regularizer/preset';
import type { CausalLM, GanpoTrainerArgs } from '../../src/trainer/ganpo-trainer';

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
