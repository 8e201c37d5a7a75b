// What the benchmark measures about a policy, on held-out prompts (the DPO paper's Figure 2 axes and
// GANPO's own): the mean reward of its samples, the sequence-level KL(π_θ ‖ π_ref) on those same
// samples, the latent drift of its last hidden state from the reference's, and its win rate against
// the SFT model's samples judged by the reward.
import * as tf from '@tensorflow/tfjs-core';
import {
  type CausalLM,
  type CollatedSequences,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferencePair,
} from 'ganpo';
import { squaredDistanceSums, tokenKl } from '../demo/metrics';
import { rewardWinRate, type Scorer } from './reward';
import { type SampleOptions, sampleContinuations } from './sample';

/** Prompt + continuation sequences as token ids (continuations are cut, not ended: no EOS). */
export interface Sequences {
  prompts: readonly (readonly number[])[];
  continuations: readonly (readonly number[])[];
  padTokenId: number;
}

type Outputs = { logits: tf.Tensor3D; hidden: tf.Tensor3D };

/**
 * Runs `policy` and `reference` over the sequences, `batchSize` at a time, and calls `use` with both
 * outputs and the batch's masks; every tensor is freed afterwards.
 */
function forBothModels(
  policy: CausalLM,
  reference: CausalLM,
  seqs: Sequences,
  batchSize: number,
  use: (p: Outputs, q: Outputs, side: CollatedSequences) => void,
): void {
  const { prompts, continuations, padTokenId } = seqs;
  for (let i = 0; i < prompts.length; i += batchSize) {
    const pairs: PreferencePair[] = prompts.slice(i, i + batchSize).map((p, k) => {
      const c = [...(continuations[i + k] as number[])];
      return { prompt: [...p], chosen: c, rejected: c };
    });
    const batch = collatePreferencePairs(pairs, { padTokenId, eosTokenId: null, maxLength: null });
    let outputs: Outputs[] = [];
    try {
      outputs = [policy, reference].map((m) => m.forward(batch.chosen.inputIds, { training: false }));
      use(outputs[0] as Outputs, outputs[1] as Outputs, batch.chosen);
    } finally {
      tf.dispose(outputs.flatMap((o) => [o.logits, o.hidden]));
      disposePreferenceBatch(batch);
    }
  }
}

/**
 * Mean over prompts of Σ_t KL(π_θ(·|x, y_<t) ‖ π_ref(·|x, y_<t)) along each continuation y the policy
 * sampled: the exact per-position KL summed over the sequence, whose mean over the policy's own samples
 * is an unbiased, lower-variance estimate of the sequence-level KL(π_θ ‖ π_ref) the DPO paper plots.
 * Nats per continuation.
 */
export function sequenceKl(policy: CausalLM, reference: CausalLM, seqs: Sequences, batchSize = 128): number {
  let total = 0;
  forBothModels(policy, reference, seqs, batchSize, (p, q, side) => {
    const kl = tf.tidy(() => {
      const [b, t] = side.inputIds.shape;
      // logits[:, t] predict token t + 1: a position counts when the token it predicts is sampled.
      const next = tf.cast(tf.slice(side.completionMask, [0, 1], [b, t - 1]), 'float32');
      const mask = tf.concat([next, tf.zeros([b, 1])], 1) as tf.Tensor2D;
      return tf.sum(tokenKl(p.logits, q.logits, mask));
    });
    total += kl.dataSync()[0] as number;
    kl.dispose();
  });
  return total / seqs.prompts.length;
}

/**
 * Latent drift Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² of the last hidden state (what GANPO's critics see) over
 * every real token of the sequences. 0 = unchanged.
 */
export function latentDrift(policy: CausalLM, reference: CausalLM, seqs: Sequences, batchSize = 128): number {
  let distance = 0;
  let norm = 0;
  forBothModels(policy, reference, seqs, batchSize, (p, q, side) => {
    const s = squaredDistanceSums(p.hidden, q.hidden, side.attentionMask);
    distance += s.distance;
    norm += s.reference;
  });
  return distance / norm;
}

/** The held-out evaluation set: prompts, and the SFT model's samples and rewards on them. */
export interface EvalSet {
  /** Prompt texts and their token ids (BOS + text). */
  prompts: string[];
  promptIds: number[][];
  /** Continuations the SFT model sampled with the evaluation seed (the win-rate opponent). */
  sftSamples: number[][];
  sftRewards: number[];
  /** Continuations of a second SFT draw: drift is measured on both draws' sequences. */
  sftSamplesB: number[][];
}

/** One policy's measures on an {@link EvalSet}. */
export interface PolicyMeasures {
  /** Mean reward of the policy's samples (prompt + continuation scored). */
  reward: number;
  /** Sequence-level KL(π_θ ‖ π_ref) on those samples, nats per continuation. */
  kl: number;
  /** Latent drift on the SFT model's held-out sequences. */
  drift: number;
  /** Win rate of the policy's samples against the SFT model's, prompt by prompt (ties ½). */
  winRate: number;
  /** A few samples, for the report. */
  examples: string[];
}

/**
 * Samples the policy on the held-out prompts with the evaluation seed (the SFT model's samples in
 * `set` were drawn with the same seed, so both share their random numbers prompt by prompt) and
 * measures it against the reference.
 */
export function measurePolicy(
  policy: CausalLM,
  reference: CausalLM,
  set: EvalSet,
  decode: (ids: readonly number[]) => string,
  scorer: Scorer,
  sampling: SampleOptions,
): PolicyMeasures {
  const samples = sampleContinuations(policy, set.promptIds, sampling);
  const texts = samples.map((s, i) => (set.prompts[i] as string) + decode(s));
  const rewards = texts.map((t) => scorer.score(t));
  const padTokenId = sampling.padTokenId;
  const heldOut = {
    prompts: [...set.promptIds, ...set.promptIds],
    continuations: [...set.sftSamples, ...set.sftSamplesB],
    padTokenId,
  };
  return {
    reward: rewards.reduce((a, b) => a + b, 0) / rewards.length,
    kl: sequenceKl(policy, reference, { prompts: set.promptIds, continuations: samples, padTokenId }),
    drift: latentDrift(policy, reference, heldOut),
    winRate: rewardWinRate(rewards, set.sftRewards),
    examples: texts.slice(0, 4),
  };
}
