// Which learning rate GanpoTrainer gives the critics' optimizer: with preset 'recommended',
// 2 × the policy's on its schedule, a transformer critic's peak capped at 2e-3; an explicit ratio
// (and preset 'official', 0.5) means ratio × the policy's learning rate, uncapped.

import { GanpoTrainer, type TrainerRegularizerOptions } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../examples/task';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';

import { expectGanpoError } from './support/helpers';
import { smallPolicy, smallTrainerArgs, type TrainerOverrides } from './support/trainer-args';

const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
const pairs = encodePairs(tok, makeTaskSplits({ seed: 3, trainSize: 16, testSize: 4, shiftedSize: 4 }).train);
const DIM = 16;
const MLP: TrainerRegularizerOptions = { critic: { kind: 'mlp', hiddenDims: [16] }, seed: 7 };
const TRANSFORMER: TrainerRegularizerOptions = {
  critic: {
    kind: 'transformer',
    hiddenDim: 16,
    numLayers: 1,
    numHeads: 2,
    ffnDim: 32,
    maxSeqLen: 32,
    dropout: 0,
  },
  seed: 7,
};

function trainer(extra: TrainerOverrides): { trainer: GanpoTrainer; dispose: () => void } {
  const policy = smallPolicy(tok);
  const reference = policy.clone();
  const t = new GanpoTrainer(smallTrainerArgs(tok, DIM, policy, reference, extra));
  return {
    trainer: t,
    dispose: () => {
      t.dispose();
      policy.dispose();
      reference.dispose();
    },
  };
}

const criticLr = (t: GanpoTrainer): number => {
  if (!t.regularizer) throw new Error('GANPO is off');
  return (t.regularizer.optimizer as unknown as { learningRate: number }).learningRate;
};

/** Relative closeness (the rates are products and quotients of doubles). */
function expectRel(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * Math.abs(expected));
}

describe('GanpoTrainer critic learning rate', () => {
  // [policy peak, expected critic peak]: 2 × the policy's, a transformer critic capped at 2e-3.
  for (const [name, ganpo, cases] of [
    [
      'mlp',
      MLP,
      [
        [1e-2, 2e-2],
        [5e-3, 1e-2],
        [5e-4, 1e-3],
      ],
    ],
    [
      'transformer',
      TRANSFORMER,
      [
        [1e-2, 2e-3],
        [5e-3, 2e-3],
        [1e-3, 2e-3],
        [5e-4, 1e-3],
      ],
    ],
  ] as const) {
    it(`default (${name} critic): ${cases.map(([p, c]) => `policy ${p} → critic ${c}`).join(', ')}`, () => {
      for (const [learningRate, peak] of cases) {
        const { trainer: t, dispose } = trainer({ regularizer: ganpo, training: { learningRate } });
        try {
          expectRel(criticLr(t), peak);
        } finally {
          dispose();
        }
      }
    });
  }

  it("default, capped transformer critic: follows the shape of the policy's schedule", async () => {
    const { trainer: t, dispose } = trainer({
      regularizer: TRANSFORMER,
      training: { learningRate: 1e-2, warmupRatio: 0.5, totalSteps: 4 },
    });
    try {
      const seen: number[][] = [];
      for (let k = 0; k < 4; k++) {
        const [m] = await t.train(pairs, { steps: 1 });
        seen.push([m?.learning_rate ?? Number.NaN, criticLr(t)]);
      }
      // Policy: warm-up 2 steps then cosine; the critic's rate is 2e-3 / 1e-2 of it at every step.
      [0, 5e-3, 1e-2, 5e-3].forEach((p, k) => {
        expect(seen[k]?.[0]).toBeCloseTo(p, 15);
      });
      for (const [policyLr, critic] of seen) expectRel(critic as number, (policyLr as number) * 0.2);
      expect(seen[2]?.[1]).toBeCloseTo(2e-3, 15);
    } finally {
      dispose();
    }
  });

  for (const [name, ganpo] of [
    ['mlp', MLP],
    ['transformer', TRANSFORMER],
  ] as const) {
    it(`explicit criticLearningRateRatio (${name} critic): ratio × the policy's learning rate, uncapped`, async () => {
      const { trainer: t, dispose } = trainer({
        regularizer: { ...ganpo, criticLearningRateRatio: 3 },
        training: { learningRate: 5e-3, schedule: 'linear', totalSteps: 4 },
      });
      try {
        expectRel(criticLr(t), 1.5e-2);
        const [m] = await t.train(pairs, { steps: 1 });
        expect(m?.learning_rate).toBe(5e-3);
        expectRel(criticLr(t), 1.5e-2);
        const [m2] = await t.train(pairs, { steps: 1 });
        expect(m2?.learning_rate).toBeLessThan(5e-3);
        expectRel(criticLr(t), 3 * (m2?.learning_rate as number));
      } finally {
        dispose();
      }
    });
  }

  it("preset 'official': half the policy's learning rate (the official code), uncapped", () => {
    for (const [ganpo, learningRate, peak] of [
      [TRANSFORMER, 1e-2, 5e-3],
      [MLP, 4e-4, 2e-4],
    ] as const) {
      const { trainer: t, dispose } = trainer({
        regularizer: { ...ganpo, preset: 'official' },
        training: { learningRate },
      });
      try {
        expectRel(criticLr(t), peak);
      } finally {
        dispose();
      }
    }
  });

  it('a non-positive criticLearningRateRatio is refused', () => {
    const policy = smallPolicy(tok);
    try {
      for (const learningRateRatio of [0, -1]) {
        expectGanpoError(
          () =>
            new GanpoTrainer(
              smallTrainerArgs(tok, DIM, policy, undefined, {
                regularizer: { ...MLP, criticLearningRateRatio: learningRateRatio },
              }),
            ),
          'OUT_OF_RANGE',
          'regularizer.criticLearningRateRatio',
        );
      }
    } finally {
      policy.dispose();
    }
  });
});
