// docs/guide.md: what goes around ganpoStep (examples/guide/existing-loop.ts) in your program.
import type * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  BatchSampler,
  collatePreferencePairs,
  disposePreferenceBatch,
  GanpoRegularizer,
  type PreferencePair,
  warmupCosineSchedule,
} from 'ganpo';
import { ganpoStep } from './existing-loop';

type LM = Parameters<typeof ganpoStep>[0];

export function train(
  policy: LM,
  reference: LM,
  policyVars: tf.Variable[],
  pairs: PreferencePair[],
  latentDim: number,
) {
  const steps = 100;
  const lr = warmupCosineSchedule({ learningRate: 5e-7, warmupSteps: 10, totalSteps: steps }); // official runs
  const opt = new AdamW({ learningRate: lr(0), weightDecay: 0 });
  // Two official transformer discriminators, AdamW at half the policy's learning rate (official code).
  const discOpt = new AdamW({ learningRate: lr(0) / 2, weightDecay: 0.01 });
  const reg = new GanpoRegularizer({ latentDim, optimizer: discOpt, seed: 0 });
  const sampler = new BatchSampler({ datasetSize: pairs.length, batchSize: 8, seed: 42 });
  for (let k = 0; k < steps; k++) {
    opt.learningRate = lr(k);
    discOpt.learningRate = lr(k) / 2;
    const batch = collatePreferencePairs(
      sampler.next().indices.map((i) => pairs[i] as PreferencePair),
      { padTokenId: 0, eosTokenId: 2, maxLength: 512 },
    );
    const loss = ganpoStep(policy, reference, policyVars, reg, opt, batch);
    disposePreferenceBatch(batch);
    console.log(k, loss, reg.means.chosen);
  }
  return { opt, reg }; // reg.stateDict() and opt.stateDict() checkpoint both
}
