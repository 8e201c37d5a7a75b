// docs/guide.md: what goes around ganpoStep (the block above, examples/guide/existing-loop.ts) in
// your program: pass it as `step`.
import type * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  BatchSampler,
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  GanpoRegularizer,
  type PreferenceBatch,
  type PreferencePair,
  warmupCosineSchedule,
} from 'ganpo';

/** Your model, as ganpoStep takes it. */
type LM = {
  forward(ids: tf.Tensor2D, options: { training: boolean }): { logits: tf.Tensor3D; hidden: tf.Tensor3D };
};
/** ganpoStep's signature. */
type Step = (
  policy: LM,
  reference: LM,
  policyVars: tf.Variable[],
  reg: GanpoRegularizer,
  opt: tf.Optimizer,
  batch: PreferenceBatch,
) => number;

export function train(
  policy: LM,
  reference: LM,
  policyVars: tf.Variable[],
  data: { pairs: PreferencePair[]; collate: CollateOptions }, // the TRL-data snippet's result
  latentDim: number,
  step: Step, // ganpoStep
) {
  const { pairs, collate } = data;
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
      collate,
    );
    const loss = step(policy, reference, policyVars, reg, opt, batch);
    disposePreferenceBatch(batch);
    console.log(k, loss, reg.means.chosen);
  }
  return { opt, reg }; // reg.stateDict() and opt.stateDict() checkpoint both
}
