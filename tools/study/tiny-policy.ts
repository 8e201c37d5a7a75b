// The tiny policy and good/bad-token task of the stability and frontier studies (tools/study/stability.ts,
// tools/study/frontier-tiny.ts): a one-hot embedding into a tanh latent of width H, then vocabulary
// logits. Position t's logits depend on token t only, so the model is a learnable bigram table
// through an H-wide bottleneck; its latent is the whole state a latent regularizer can hold.
//
// A pair shares a 3-token prompt; both responses are uniform random tokens, except that a share of
// them (30 % by default) is replaced by a "good" token in the chosen response and by a "bad" token in
// the rejected one. DPO alone learns to put its mass on the good tokens; a regularizer should keep
// the latents (and the token distribution) near the reference while the preference is learnt.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM, PreferencePair } from '../../src/index';
import { mulberry32 } from '../../src/trainer/random';

/** Task and model sizes (the defaults are the settings of issue-level measurements). */
export interface TinyTask {
  vocab: number;
  latent: number;
  promptLength: number;
  responseLength: number;
  /** Token ids counted as good (chosen responses) and bad (rejected responses). */
  good: readonly number[];
  bad: readonly number[];
  /** Share of response tokens replaced by a good / bad token. */
  signal: number;
  /** Standard deviation of the embedding's initial entries (the latent's pre-activation). */
  embeddingInit: number;
}

export const TINY_TASK: TinyTask = {
  vocab: 13,
  latent: 12,
  promptLength: 3,
  responseLength: 6,
  good: [0, 1],
  bad: [2, 3],
  signal: 0.3,
  embeddingInit: 0.3,
};

let instances = 0;

/** h = tanh(onehot(x)·E + b), logits = h·W + c; a {@link CausalLM} over plain variables. */
export class TinyPolicy implements CausalLM {
  readonly vars: { E: tf.Variable; b: tf.Variable; W: tf.Variable; c: tf.Variable };
  readonly task: TinyTask;

  constructor(task: TinyTask, seed: number, init?: TinyPolicy) {
    this.task = task;
    const id = instances++;
    const name = (n: string) => `tiny${id}/${n}`;
    if (init) {
      this.vars = {
        E: tf.variable(init.vars.E.clone(), true, name('E')),
        b: tf.variable(init.vars.b.clone(), true, name('b')),
        W: tf.variable(init.vars.W.clone(), true, name('W')),
        c: tf.variable(init.vars.c.clone(), true, name('c')),
      };
      return;
    }
    const { vocab: V, latent: H } = task;
    this.vars = tf.tidy(() => ({
      E: tf.variable(tf.randomNormal([V, H], 0, task.embeddingInit, 'float32', seed), true, name('E')),
      b: tf.variable(tf.zeros([H]), true, name('b')),
      W: tf.variable(tf.randomNormal([H, V], 0, 1 / Math.sqrt(H), 'float32', seed + 1), true, name('W')),
      c: tf.variable(tf.zeros([V]), true, name('c')),
    }));
  }

  get trainableVariables(): tf.Variable[] {
    return [this.vars.E, this.vars.b, this.vars.W, this.vars.c];
  }

  forward(inputIds: tf.Tensor2D, _options: { training: boolean } = { training: false }) {
    return tf.tidy(() => {
      const [B, T] = inputIds.shape;
      const { vocab: V, latent: H } = this.task;
      // An int32 one-hot cast to float: float one-hots are wrong on wasm.
      const oh = tf.cast(tf.oneHot(tf.reshape(inputIds, [B * T]), V), 'float32') as tf.Tensor2D;
      const h = tf.tanh(tf.add(tf.matMul(oh, this.vars.E as tf.Tensor2D), this.vars.b)) as tf.Tensor2D;
      const logits = tf.add(tf.matMul(h, this.vars.W as tf.Tensor2D), this.vars.c);
      return {
        logits: tf.reshape(logits, [B, T, V]) as tf.Tensor3D,
        hidden: tf.reshape(h, [B, T, H]) as tf.Tensor3D,
      };
    });
  }

  clone(): TinyPolicy {
    return new TinyPolicy(this.task, 0, this);
  }

  dispose(): void {
    tf.dispose(Object.values(this.vars));
  }
}

/** Pairs of the task drawn from `seed` (prompt, chosen and rejected responses as token ids). */
export function tinyPairs(task: TinyTask, seed: number, n: number): PreferencePair[] {
  const rand = mulberry32(seed);
  const tok = () => Math.floor(rand() * task.vocab);
  const pick = (xs: readonly number[]) => xs[Math.floor(rand() * xs.length)] as number;
  const response = (special: readonly number[]) =>
    Array.from({ length: task.responseLength }, () => (rand() < task.signal ? pick(special) : tok()));
  return Array.from({ length: n }, () => ({
    prompt: Array.from({ length: task.promptLength }, tok),
    chosen: response(task.good),
    rejected: response(task.bad),
  }));
}

/** [B,T] int32 ids of prompt+response rows (all rows have one length in this task). */
export function sequences(pairs: readonly PreferencePair[], side: 'chosen' | 'rejected'): tf.Tensor2D {
  return tf.tensor2d(
    pairs.map((p) => [...p.prompt, ...p[side]]),
    undefined,
    'int32',
  );
}

/** The loss mask of the task's rows: 1 on response tokens (in input coordinates). */
export function responseMask(task: TinyTask, rows: number): tf.Tensor2D {
  const row = [...Array(task.promptLength).fill(0), ...Array(task.responseLength).fill(1)];
  return tf.tensor2d(
    Array.from({ length: rows }, () => row),
    undefined,
    'float32',
  );
}

/** Summed response log-probs [B] of `ids` under `logits` (logits[:, t] predicts ids[:, t+1]). */
export function responseLogps(logits: tf.Tensor3D, ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const lp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [B, T - 1, V]));
    const next = tf.cast(tf.oneHot(tf.slice(ids, [0, 1], [B, T - 1]), V), 'float32');
    const tok = tf.sum(tf.mul(lp, next), -1);
    return tf.sum(tf.mul(tok, tf.slice(mask, [0, 1], [B, T - 1])), -1) as tf.Tensor1D;
  });
}

/** What the studies measure on held-out pairs. */
export interface TinyEval {
  /** Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² over every position of prompt+chosen and prompt+rejected rows. */
  drift: number;
  /** Share of pairs with policy − reference log-ratio larger on chosen than rejected (DPO's implicit reward). */
  accuracy: number;
  /** Mean implicit reward margin β·(Δ chosen − Δ rejected). */
  margin: number;
  /** The policy's mean next-token probability on good / bad tokens over response positions. */
  goodMass: number;
  badMass: number;
  /** KL(π_θ ‖ π_ref) of a response sampled from the policy after each held-out prompt (nats). */
  kl: number;
  /** Mean reward (#good − #bad tokens) of the policy's sampled responses (T = 1). */
  reward: number;
  /** Share of held-out prompts whose policy sample out-scores the reference's sample (ties ½). */
  winRate: number;
}

/** Measures `policy` against `reference` on held-out `pairs` (β for the implicit reward). */
export function evaluateTiny(
  policy: TinyPolicy,
  reference: TinyPolicy,
  pairs: readonly PreferencePair[],
  beta = 0.1,
  sampleSeed = 12345,
): TinyEval {
  const task = policy.task;
  const out = tf.tidy(() => {
    const mask = responseMask(task, pairs.length);
    const sums = { num: tf.scalar(0), den: tf.scalar(0) };
    const logRatio: tf.Tensor1D[] = [];
    let good = tf.scalar(0);
    let bad = tf.scalar(0);
    for (const side of ['chosen', 'rejected'] as const) {
      const ids = sequences(pairs, side);
      const p = policy.forward(ids);
      const r = reference.forward(ids);
      sums.num = tf.add(sums.num, tf.sum(tf.square(tf.sub(p.hidden, r.hidden))));
      sums.den = tf.add(sums.den, tf.sum(tf.square(r.hidden)));
      logRatio.push(tf.sub(responseLogps(p.logits, ids, mask), responseLogps(r.logits, ids, mask)));
      // Next-token distributions at the positions that predict response tokens.
      const [B, T, V] = p.logits.shape;
      const probs = tf.softmax(
        tf.slice(p.logits, [0, task.promptLength - 1, 0], [B, T - task.promptLength, V]),
      );
      const massOf = (ids2: readonly number[]) =>
        tf.mean(tf.sum(tf.gather(probs, tf.tensor1d(ids2 as number[], 'int32'), 2), -1));
      good = tf.add(good, tf.mul(massOf(task.good), 0.5));
      bad = tf.add(bad, tf.mul(massOf(task.bad), 0.5));
    }
    const margins = tf.mul(tf.sub(logRatio[0] as tf.Tensor1D, logRatio[1] as tf.Tensor1D), beta);
    return tf.stack([
      tf.div(sums.num, sums.den),
      tf.mean(tf.cast(tf.greater(margins, 0), 'float32')),
      tf.mean(margins),
      good,
      bad,
    ]);
  });
  const v = out.dataSync();
  out.dispose();
  return {
    drift: v[0] as number,
    accuracy: v[1] as number,
    margin: v[2] as number,
    goodMass: v[3] as number,
    badMass: v[4] as number,
    ...sampledScores(policy, reference, pairs, sampleSeed),
  };
}

/** #good − #bad tokens of a response. */
export function tinyReward(task: TinyTask, response: readonly number[]): number {
  let r = 0;
  for (const t of response) {
    if (task.good.includes(t)) r += 1;
    else if (task.bad.includes(t)) r -= 1;
  }
  return r;
}

/** KL on the policy's samples, their mean reward, and their win rate against the reference's samples. */
function sampledScores(
  policy: TinyPolicy,
  reference: TinyPolicy,
  pairs: readonly PreferencePair[],
  seed: number,
): { kl: number; reward: number; winRate: number } {
  const task = policy.task;
  const own = sampleResponses(policy, reference, pairs, seed);
  const ref = sampleResponses(reference, reference, pairs, seed + 1);
  let wins = 0;
  let reward = 0;
  own.responses.forEach((y, i) => {
    const a = tinyReward(task, y);
    const b = tinyReward(task, ref.responses[i] as number[]);
    reward += a;
    wins += a > b ? 1 : a === b ? 0.5 : 0;
  });
  return { kl: own.kl, reward: reward / pairs.length, winRate: wins / pairs.length };
}

/**
 * Mean over prompts of Σ_t KL(π_θ(·|y_<t) ‖ π_ref(·|y_<t)) along a response the policy samples at
 * T = 1 (exact per position, so an unbiased, low-variance estimate of the sequence KL).
 */
export function sampleResponses(
  policy: TinyPolicy,
  reference: TinyPolicy,
  pairs: readonly PreferencePair[],
  seed: number,
): { kl: number; responses: number[][] } {
  const task = policy.task;
  const rand = mulberry32(seed);
  const rows = pairs.map((p) => [...p.prompt]);
  let total = 0;
  for (let t = 0; t < task.responseLength; t++) {
    const last = tf.tensor2d(
      rows.map((r) => [r[r.length - 1] as number]),
      undefined,
      'int32',
    );
    const [pp, kl] = tf.tidy(() => {
      const lp = tf.logSoftmax(tf.squeeze(policy.forward(last).logits, [1]));
      const lq = tf.logSoftmax(tf.squeeze(reference.forward(last).logits, [1]));
      return [tf.exp(lp), tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)))];
    });
    last.dispose();
    total += (kl as tf.Tensor).dataSync()[0] as number;
    const probs = (pp as tf.Tensor).arraySync() as number[][];
    tf.dispose([pp, kl]);
    rows.forEach((r, i) => {
      const u = rand();
      const p = probs[i] as number[];
      let acc = 0;
      let k = 0;
      for (; k < p.length - 1; k++) {
        acc += p[k] as number;
        if (u < acc) break;
      }
      r.push(k);
    });
  }
  return { kl: total / pairs.length, responses: rows.map((r) => r.slice(task.promptLength)) };
}
