// The small GanpoTrainer configuration the trainer tests share: the example tokenizer's collation,
// lr 1e-2, batch 4, 6 steps, an MLP critic (hidden 16, seed 7).

import type { CausalLM, GanpoPreset, GanpoTrainerOptions } from 'ganpo';
import { TinyLM } from '../../examples/tiny-lm';
import type { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';

/** The official transformer critic, small, with the official dropout 0.1 (its streams then matter). */
export const SMALL_DROPOUT_CRITIC = Object.freeze({
  kind: 'transformer',
  hiddenDim: 8,
  numLayers: 1,
  numHeads: 2,
  ffnDim: 16,
  maxSeqLen: 32,
  dropout: 0.1,
} as const);

/** The trainer tests' policy: a TinyLM of width 16, 1 layer, 2 heads, over the tokenizer's vocabulary. */
export function smallPolicy(tok: CharTokenizer, seed = 1): TinyLM {
  return new TinyLM({ vocabSize: tok.vocabSize, maxSeqLen: 32, dim: 16, numLayers: 1, numHeads: 2, seed });
}

/**
 * Changes to the small configuration, by option group: `model`, `data`, `training` and `logging`
 * are merged into the defaults; `objective`, `referenceSync` and `regularizer` replace them.
 */
export interface TrainerOverrides {
  model?: Partial<GanpoTrainerOptions['model']>;
  data?: Partial<GanpoTrainerOptions['data']>;
  training?: Partial<GanpoTrainerOptions['training']>;
  objective?: GanpoTrainerOptions['objective'];
  referenceSync?: GanpoTrainerOptions['referenceSync'];
  regularizer?: GanpoTrainerOptions['regularizer'];
  logging?: GanpoTrainerOptions['logging'];
}

export function smallTrainerArgs(
  tok: CharTokenizer,
  latentDim: number,
  policy: CausalLM,
  reference: CausalLM | 'copy' | 'initial' | undefined,
  extra: TrainerOverrides = {},
  preset?: GanpoPreset,
): GanpoTrainerOptions {
  const { model, data, training, ...rest } = extra;
  return {
    model: { policy, reference, latentDim, ...model },
    data: {
      collate: { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 32, vocabSize: tok.vocabSize },
      batchSize: 4,
      ...data,
    },
    training: { learningRate: 1e-2, totalSteps: 6, warmupRatio: 0, ...training },
    regularizer: { critic: { kind: 'mlp', hiddenDims: [16] }, seed: 7, ...(preset ? { preset } : {}) },
    ...rest,
  };
}
