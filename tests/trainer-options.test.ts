// GanpoTrainer's grouped options: unknown keys refused with the nearest valid key, one seed story,
// the latent anchor as a regularizer, and a ready-made GanpoRegularizer.
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, GanpoRegularizer, GanpoTrainer, type GanpoTrainerOptions, type PreferencePair } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../examples/task';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';

import { expectGanpoError } from './support/helpers';
import { smallPolicy, smallTrainerArgs, type TrainerOverrides } from './support/trainer-args';

const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
const pairs: PreferencePair[] = encodePairs(
  tok,
  makeTaskSplits({ seed: 3, trainSize: 16, testSize: 4, shiftedSize: 4 }).train,
);
const DIM = 16;

function build(extra: TrainerOverrides, seed = 1) {
  const policy = smallPolicy(tok, seed);
  const reference = policy.clone();
  const trainer = new GanpoTrainer(smallTrainerArgs(tok, DIM, policy, reference, extra));
  return {
    trainer,
    policy,
    dispose: () => {
      trainer.dispose();
      policy.dispose();
      reference.dispose();
    },
  };
}

const weights = (vs: readonly tf.Variable[]): number[][] => vs.map((v) => Array.from(v.dataSync()));

describe('GanpoTrainer options', () => {
  it('refuses an unknown key at every level, naming it and the nearest valid key, before building anything', () => {
    const policy = smallPolicy(tok);
    const base = smallTrainerArgs(tok, DIM, policy, 'copy');
    const before = tf.memory().numTensors;
    const cases: [GanpoTrainerOptions, string, string][] = [
      [{ ...base, traning: base.training } as never, 'traning', 'training'],
      [
        { ...base, training: { ...base.training, learningrate: 1 } } as never,
        'training.learningrate',
        'training.learningRate',
      ],
      [{ ...base, data: { ...base.data, batchsize: 4 } } as never, 'data.batchsize', 'data.batchSize'],
      [{ ...base, model: { ...base.model, hiddenSize: DIM } } as never, 'model.hiddenSize', ''],
      [{ ...base, regularizer: { wieght: 1 } } as never, 'regularizer.wieght', 'regularizer.weight'],
      [{ ...base, regularizer: { kind: 'anchor', weight: 1, seed: 1 } } as never, 'regularizer.seed', ''],
      [
        { ...base, referenceSync: { syncStep: 2 } } as never,
        'referenceSync.syncStep',
        'referenceSync.syncSteps',
      ],
      [{ ...base, logging: { onstep: () => {} } } as never, 'logging.onstep', 'logging.onStep'],
      [{ ...base, ganpo: {} } as never, 'ganpo', ''],
    ];
    for (const [options, argument, near] of cases) {
      const e = expectGanpoError(() => new GanpoTrainer(options), 'INVALID_OPTION', argument);
      if (near) expect(e.expected).toContain(`did you mean '${near}'?`);
    }
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });

  it('training.seed seeds the critics it builds (D_w seed, D_l seed + 1) unless regularizer.seed or critic.seed is given', () => {
    const critic = { critic: { kind: 'mlp' as const, hiddenDims: [16] } };
    const critics = (extra: TrainerOverrides) => {
      const t = build(extra);
      const r = t.trainer.regularizer as GanpoRegularizer;
      const out = [
        weights(r.discriminators.chosen.trainableVariables),
        weights(r.discriminators.rejected.trainableVariables),
      ];
      t.dispose();
      return out;
    };
    const a = critics({ regularizer: critic, training: { seed: 5 } });
    const b = critics({ regularizer: critic, training: { seed: 5 } });
    const explicit = critics({ regularizer: { ...critic, seed: 5 }, training: { seed: 9 } });
    const other = critics({ regularizer: critic, training: { seed: 6 } });
    const nested = critics({ regularizer: { critic: { ...critic.critic, seed: 5 } }, training: { seed: 9 } });
    expect(b).toEqual(a);
    expect(explicit).toEqual(a);
    expect(nested).toEqual(a);
    expect(other[0]).toEqual(a[1]);
    expect(other[0]).not.toEqual(a[0]);
  });

  for (const kind of ['anchor', 'mmd'] as const)
    it(`regularizer { kind: '${kind}' }: no critic; weight 0 steps exactly like no regularizer, weight > 0 does not`, async () => {
      const plain = build({ regularizer: false });
      const zero = build({ regularizer: { kind, weight: 0 } });
      const anchored = build({ regularizer: { kind, weight: 1 } });
      expect(zero.trainer.regularizer).toBeNull();
      expect(anchored.trainer.latentPenalty).toEqual({ kind, weight: 1 });
      const [p] = await plain.trainer.train(pairs, { steps: 1 });
      const [z] = await zero.trainer.train(pairs, { steps: 1 });
      const [m] = await anchored.trainer.train(pairs, { steps: 1 });
      expect(weights(zero.policy.trainableVariables)).toEqual(weights(plain.policy.trainableVariables));
      expect(z?.loss).toBe(p?.loss);
      // The first step: policy = reference (MMD² of equal sets, up to float rounding).
      expect(z?.['ganpo/regularizer_loss']).toBeCloseTo(0, 6);
      expect(m?.['ganpo/discriminator_loss_chosen']).toBeUndefined();
      const [m2] = await anchored.trainer.train(pairs, { steps: 1 });
      const anchor = m2?.['ganpo/regularizer_loss'] as number;
      expect(anchor).toBeGreaterThan(0);
      expect(Number.isFinite(m2?.loss)).toBe(true);
      const [p2] = await plain.trainer.train(pairs, { steps: 1 });
      expect(weights(anchored.policy.trainableVariables)).not.toEqual(
        weights(plain.policy.trainableVariables),
      );
      expect(p2?.['ganpo/regularizer_loss']).toBeUndefined();
      for (const t of [plain, zero, anchored]) t.dispose();
      const policy = smallPolicy(tok);
      const noWeight = smallTrainerArgs(tok, DIM, policy, 'copy', { regularizer: { kind } as never });
      expectGanpoError(() => new GanpoTrainer(noWeight), 'INVALID_OPTION', 'regularizer.weight');
      policy.dispose();
    });

  it('a ready GanpoRegularizer is used as given: its optimizer unscheduled, not disposed with the trainer', async () => {
    const lr = 3e-3;
    const regularizer = new GanpoRegularizer({
      latentDim: DIM,
      critic: { kind: 'mlp', hiddenDims: [8] },
      seed: 2,
      optimizer: new AdamW({ learningRate: lr }),
    });
    const t = build({ regularizer });
    expect(t.trainer.regularizer).toBe(regularizer);
    const [m] = await t.trainer.train(pairs, { steps: 1 });
    expect(Number.isFinite(m?.['ganpo/discriminator_loss_chosen'])).toBe(true);
    expect((regularizer.optimizer as AdamW).learningRate).toBe(lr);
    expect(regularizer.stepCount).toBe(1);
    t.dispose();
    expect(() => regularizer.stateDict()).not.toThrow();
    const wide = new GanpoRegularizer({ latentDim: DIM + 1, critic: { kind: 'mlp', hiddenDims: [8] } });
    const policy = smallPolicy(tok);
    const mismatched = smallTrainerArgs(tok, DIM, policy, 'copy', { regularizer: wide });
    expectGanpoError(() => new GanpoTrainer(mismatched), 'SHAPE_MISMATCH', 'regularizer');
    policy.dispose();
    regularizer.dispose();
    wide.dispose();
  });
});
