// Three GanpoTrainer steps with a small transformer critic, with one kernelFlags lever on or off: the
// weights afterwards, for tests that a lever leaves every float unchanged.

import { GanpoTrainer } from 'ganpo';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../../examples/task';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import { kernelFlags } from '../../src/ops/kernel-flags';

import { smallPolicy, smallTrainerArgs } from './trainer-args';

type Lever = {
  [K in keyof typeof kernelFlags]: (typeof kernelFlags)[K] extends boolean ? K : never;
}[keyof typeof kernelFlags];

/** Policy, then chosen and rejected critic weights after three steps with `lever` set to `on`. */
export function weightsAfterThreeSteps(lever: Lever, on: boolean): Float32Array[] {
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const pairs = encodePairs(
    tok,
    makeTaskSplits({ seed: 5, trainSize: 8, testSize: 2, shiftedSize: 2 }).train,
  );
  const before = kernelFlags[lever];
  kernelFlags[lever] = on;
  const policy = smallPolicy(tok, 2);
  const reference = policy.clone();
  const trainer = new GanpoTrainer({
    ...smallTrainerArgs(tok, 16, policy, reference, {
      regularizer: {
        critic: {
          kind: 'transformer',
          hiddenDim: 16,
          numLayers: 1,
          numHeads: 2,
          ffnDim: 32,
          maxSeqLen: 32,
          dropout: 0.1,
        },
        seed: 4,
      },
    }),
  });
  try {
    for (let i = 0; i < 3; i++) trainer.trainStep(pairs.slice(2 * i, 2 * i + 4));
    const critics = trainer.regularizer?.discriminators;
    if (!critics) throw new Error('GANPO is off');
    const weights = [
      ...policy.trainableVariables,
      ...critics.chosen.trainableVariables,
      ...critics.rejected.trainableVariables,
    ];
    return weights.map((w) => w.dataSync() as Float32Array);
  } finally {
    kernelFlags[lever] = before;
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  }
}
