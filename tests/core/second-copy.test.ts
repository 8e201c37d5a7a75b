// Two copies of ganpo in one process (require('ganpo') next to import 'ganpo' loads the CommonJS and
// the ES module build): an object of one copy handed to the other is refused with an error that says
// so, instead of "expected a GanpoRegularizer, received object". The real CJS + ESM case runs in
// tools/package-smoke/second-copy.mjs (npm run check:package); here a second copy of the source.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { expectGanpoError } from '../support/helpers';

describe('a second copy of ganpo', () => {
  it('is named in the error when its GanpoRegularizer reaches the first copy', async () => {
    const first = await import('ganpo');
    vi.resetModules();
    const second = await import('ganpo');
    expect(second.GanpoRegularizer).not.toBe(first.GanpoRegularizer);
    const reg = new second.GanpoRegularizer({
      latentDim: 4,
      critic: { kind: 'mlp', hiddenDims: [4] },
      seed: 0,
    });
    const h = tf.zeros([1, 2, 4]) as tf.Tensor3D;
    const preference = tf.scalar(0.5);
    const e = expectGanpoError(
      () =>
        first.ganpoLoss({
          regularizer: reg as never,
          preference,
          policyChosenLatents: h,
          policyRejectedLatents: h,
          referenceChosenLatents: h,
          referenceRejectedLatents: h,
        }),
      'INVALID_ARGUMENT',
      'regularizer',
    );
    expect(e.received).toMatch(
      /a GanpoRegularizer from another copy of ganpo: this process has loaded ganpo \d+ times/,
    );
    expect(e.message).toContain('load ganpo one way only');
    const policy = { forward: () => ({}) as never, trainableVariables: [tf.variable(tf.zeros([1]))] };
    const t = expectGanpoError(
      () =>
        new first.GanpoTrainer({
          model: { policy, latentDim: 4 },
          data: { collate: { padTokenId: 0, eosTokenId: 1 } },
          training: { learningRate: 1e-3, totalSteps: 1 },
          regularizer: reg as never,
        }),
      'INVALID_ARGUMENT',
      'regularizer',
    );
    expect(t.received).toContain('another copy of ganpo');
    // An ordinary wrong argument still names its type.
    const plain = expectGanpoError(
      () => first.ganpoLoss({ regularizer: {} as never, preference } as never),
      'INVALID_ARGUMENT',
      'regularizer',
    );
    expect(plain.received).toBe('an object');
    tf.dispose([h, preference, ...policy.trainableVariables]);
    reg.dispose();
  });
});
