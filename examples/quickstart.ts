// The README quickstart, runnable: GANPO added to a hand-written tfjs training loop.
//   node --import tsx examples/quickstart.ts [--backend wasm|cpu] [--steps 20]
// The model is the example TinyLM (any model whose forward returns logits and a hidden state works);
// the data is the example digit task, collated with ganpo's TRL-style collator.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import {
  AdamW,
  causalLogProbs,
  collatePreferencePairs,
  disposePreferenceBatch,
  dpoLoss,
  GanpoRegularizer,
  ganpoLoss,
} from 'ganpo';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from './task';
import { TinyLM } from './tiny-lm';
import { CharTokenizer } from './tokenizers/char-tokenizer';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};

async function main(): Promise<void> {
  await tf.setBackend(arg('backend', 'wasm'));
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const pairs = encodePairs(tok, makeTaskSplits({ seed: 1, trainSize: 64 }).train);
  const policy = new TinyLM({
    vocabSize: tok.vocabSize,
    maxSeqLen: 48,
    dim: 32,
    numLayers: 1,
    numHeads: 2,
    seed: 1,
  });
  const reference = policy.clone(); // frozen: never given to an optimizer

  // --- the GANPO part of a user's loop -------------------------------------------------------
  const reg = new GanpoRegularizer({ latentDim: 32, critic: { kind: 'mlp' } }); // D_chosen, D_rejected, means
  const opt = new AdamW({ learningRate: 1e-3 });
  const logps = (m: TinyLM, ids: tf.Tensor2D, mask: tf.Tensor2D) => {
    const { logits, hidden } = m.forward(ids, { training: m === policy });
    return { lp: causalLogProbs({ logits, inputIds: ids, lossMask: mask }).sum, hidden };
  };
  for (let step = 0; step < Number(arg('steps', '20')); step++) {
    const b = collatePreferencePairs(pairs.slice((step * 8) % 56, ((step * 8) % 56) + 8), {
      padTokenId: tok.padId,
      eosTokenId: tok.eosId,
    });
    const [c, r] = [b.chosen, b.rejected];
    const ref = tf.tidy(() => ({
      c: logps(reference, c.inputIds, c.completionMask),
      r: logps(reference, r.inputIds, r.completionMask),
    }));
    const pol = tf.tidy(() => ({
      c: policy.forward(c.inputIds).hidden,
      r: policy.forward(r.inputIds).hidden,
    }));
    const d = reg.discriminatorStep({
      policyChosenLatents: pol.c,
      policyRejectedLatents: pol.r,
      referenceChosenLatents: ref.c.hidden,
      referenceRejectedLatents: ref.r.hidden,
      chosenMask: c.attentionMask,
      rejectedMask: r.attentionMask,
    });
    const { value, grads } = tf.variableGrads(() => {
      const pc = logps(policy, c.inputIds, c.completionMask);
      const pr = logps(policy, r.inputIds, r.completionMask);
      const preference = dpoLoss({
        policyChosenLogps: pc.lp,
        policyRejectedLogps: pr.lp,
        referenceChosenLogps: ref.c.lp,
        referenceRejectedLogps: ref.r.lp,
        beta: 0.1,
      });
      return ganpoLoss({
        regularizer: reg,
        preference,
        policyChosenLatents: pc.hidden,
        policyRejectedLatents: pr.hidden,
        referenceChosenLatents: ref.c.hidden, // the default generator compares each policy latent
        referenceRejectedLatents: ref.r.hidden, // with the reference latent of its own sequence
        chosenMask: c.attentionMask,
        rejectedMask: r.attentionMask,
      }).loss;
    }, policy.trainableVariables); // always pass the policy's variables
    opt.applyGradients(grads);
    // --------------------------------------------------------------------------------------------
    console.log(
      `step ${step}  loss ${value.dataSync()[0]?.toFixed(4)}  D ${d.lossChosen.toFixed(3)}/${d.lossRejected.toFixed(3)}  tensors ${tf.memory().numTensors}`,
    );
    tf.dispose([
      value,
      ...Object.values(grads),
      ref.c.lp,
      ref.c.hidden,
      ref.r.lp,
      ref.r.hidden,
      pol.c,
      pol.r,
    ]);
    disposePreferenceBatch(b);
  }
  reg.dispose();
  opt.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
