// The step both sides of the whole-step benchmark time: the ganpo policy, trainer and batch built from
// a WholeStepConfig (used by ./child.ts and bench/profile-whole-step.ts).
import { TinyLM } from '../../examples/tiny-lm';
import { GanpoTrainer } from '../../src/trainer/ganpo-trainer';
import type { WholeStepConfig } from './config';

/** Seeded synthetic pairs: prompt + completion of exactly T tokens, ids in [1, vocab). */
export function wholeStepPairs(c: WholeStepConfig) {
  let s = 1;
  const next = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return 1 + Math.floor((s / 2 ** 32) * (c.vocab - 1));
  };
  const seq = (n: number): number[] => Array.from({ length: n }, next);
  return Array.from({ length: c.B }, () => ({
    prompt: seq(c.prompt),
    chosen: seq(c.T - c.prompt),
    rejected: seq(c.T - c.prompt),
  }));
}

/** GanpoTrainer for the config's variant: DPO, or the official GANPO step with its critics. */
export function wholeStepTrainer(c: WholeStepConfig, policy: TinyLM): GanpoTrainer {
  const critic =
    c.variant === 'mlp'
      ? { kind: 'mlp' as const, hiddenDims: c.mlpCritic.hiddenDims }
      : {
          kind: 'transformer' as const,
          hiddenDim: c.transformerCritic.hidden,
          numLayers: c.transformerCritic.layers,
          numHeads: c.transformerCritic.heads,
          ffnDim: c.transformerCritic.ffn,
          maxSeqLen: c.transformerCritic.maxSeqLen,
          dropout: c.transformerCritic.dropout,
        };
  return new GanpoTrainer({
    model: { policy, reference: 'copy', latentDim: c.dim },
    data: {
      collate: { padTokenId: 0, eosTokenId: null, maxLength: c.T, vocabSize: c.vocab },
      batchSize: c.B,
    },
    training: { learningRate: 1e-4, totalSteps: 1000 },
    // The official GANPO step (the PyTorch side runs GANPO_trl.py's algorithm).
    regularizer: c.variant === 'dpo' ? false : { critic, preset: 'official', seed: 1 },
  });
}

/** The policy: examples/tiny-lm at the config's shape, seed 0. */
export function wholeStepPolicy(c: WholeStepConfig): TinyLM {
  return new TinyLM({
    vocabSize: c.vocab,
    maxSeqLen: c.maxSeqLen,
    dim: c.dim,
    numLayers: c.layers,
    numHeads: c.heads,
    ffnDim: c.ffn,
    seed: 0,
  });
}
