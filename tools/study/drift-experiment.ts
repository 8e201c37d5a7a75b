// A small, fast latent-drift experiment: does a GANPO configuration keep a policy's hidden states
// closer to its reference than the preference loss alone? A tiny causal LM is trained on pairs whose
// chosen and rejected completions are drawn from ONE distribution (uniform random tokens), so the
// preference loss moves latents without any systematic chosen/rejected difference for a critic to use
// — the setting in which the official quad loss is degenerate. Drift is measured on held-out
// sequences. Used by tools/study/drift.ts (the table in docs/troubleshooting.md) and by the
// acceptance tests (tests/ganpo-acceptance.test.ts).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { TinyLM } from '../../examples/tiny-lm/index';
import {
  AdamW,
  causalLogProbs,
  dpoLoss,
  GanpoRegularizer,
  type GanpoRegularizerOptions,
  ganpoLoss,
  simpoLoss,
} from '../../src/index';
import { mulberry32 } from '../../src/trainer/random';

/** A generator-side loss computed by the harness itself from the critics' scores (for comparisons). */
export type HarnessGenerator =
  | 'library' // whatever `ganpoLoss` does with the regularizer's options
  | 'official' // ℓreal(D(h_θ) − m_ref), EMA m_ref (the official code)
  | 'ragan2' // symmetric RaSGAN generator with batch means (AlexiaJM/RelativisticGAN)
  | 'ls-mean' // (mean D(h_θ) − mean D(h_ref))², feature matching on the score
  | 'ls-paired' // mean (D(h_θ,i) − D(h_ref,i))²
  | 'fm-paired' // mean ‖f(h_θ,i) − f(h_ref,i)‖² / F over the critic's last hidden layer f
  | 'fm-paired-sum'; // mean_i ‖f(h_θ,i) − f(h_ref,i)‖²

/** One run's settings. */
export interface DriftRunConfig {
  seed: number;
  /** Preference loss: DPO (sigmoid, β 0.1) or SimPO (β 2, γ/β 0.25, defaults). */
  objective: 'dpo' | 'simpo';
  /** `false`: the preference loss alone. Otherwise the regularizer's options (latentDim is filled in). */
  ganpo:
    | false
    | (Omit<Extract<GanpoRegularizerOptions, { latentDim: number }>, 'latentDim'> & {
        criticLearningRate?: number;
        criticBeta1?: number;
        criticBeta2?: number;
        criticSteps?: number;
      });
  /** Generator term; default 'library'. */
  generator?: HarnessGenerator;
  /** Adaptive λ (VQGAN): λ = clip(‖∇L_pref‖/(‖∇L_adv‖+1e-4), 0, adaptiveMax) over the policy's variables. */
  adaptiveWeight?: boolean;
  adaptiveMax?: number;
  /** Policy steps. Default 80. */
  steps?: number;
  /** Policy AdamW learning rate. Default 5e-3. */
  learningRate?: number;
  batchSize?: number;
  /** Policy size. Default dim 16, 1 layer, 2 heads. */
  dim?: number;
  numLayers?: number;
  /**
   * Which hidden state feeds the critics: `last` (the final LayerNorm's output, `TinyLM.forward().hidden`,
   * the default) or `middle` (the residual stream after the first of the policy's transformer blocks,
   * before any LayerNorm; needs `numLayers` ≥ 2).
   */
  criticLayer?: 'last' | 'middle';
  /** Called every `evalEvery` steps with the held-out drift at that step. */
  onEval?: (step: number, drift: number) => void;
  evalEvery?: number;
  /** Called after each step with the critics' loss of that step (NaN without GANPO). */
  onStep?: (step: number, criticLoss: number, preferenceLoss: number, adversarialLoss: number) => void;
}

/** One run's measurements. */
export interface DriftRunResult {
  /** Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² over held-out sequences' last hidden states. */
  drift: number;
  /** Mean discriminator loss (both critics) over the last 10 steps; NaN without GANPO. */
  criticLoss: number;
  /** Mean preference loss over the last 10 steps. */
  preferenceLoss: number;
  /** Mean adversarial loss over the last 10 steps; NaN without GANPO. */
  adversarialLoss: number;
  /** Like `drift`, on the middle layer's output (after the first block); NaN with one layer. */
  driftMiddle: number;
  /** Mean discriminator loss (both critics) over the last 10 % of steps (at least one); NaN without GANPO. */
  criticLossLastTenth: number;
  /** Wall time in ms. */
  ms: number;
}

/** Logits, last hidden state and the first block's output of a {@link TinyLM}, from one forward pass. */
interface LayeredLM {
  forward(
    ids: tf.Tensor2D,
    opts?: { training?: boolean },
  ): { logits: tf.Tensor3D; hidden: tf.Tensor3D; middle?: tf.Tensor3D };
}

/**
 * Wraps `lm` in a second functional model over the same layers (same weights, same gradients) whose
 * extra output is the first transformer block's output. The example model stays unchanged.
 */
function layered(lm: TinyLM): LayeredLM {
  const blocks = lm.model.layers.filter((l) => l.getClassName() === 'GanpoTransformerBlock');
  if (blocks.length < 2) return { forward: (ids, opts) => lm.forward(ids, opts) };
  const first = blocks[0] as tfl.layers.Layer;
  const wrapper = tfl.model({
    inputs: lm.model.inputs,
    outputs: [...lm.model.outputs, first.output as tfl.SymbolicTensor],
  });
  return {
    forward: (ids, { training = false } = {}) => {
      const [logits, hidden, middle] = wrapper.apply(ids, { training }) as tf.Tensor3D[];
      return { logits: logits as tf.Tensor3D, hidden: hidden as tf.Tensor3D, middle: middle as tf.Tensor3D };
    },
  };
}

const VOCAB = 16;
const PROMPT = 4;
const COMPLETION = 4;
const TRAIN_PAIRS = 64;
const HELD_OUT = 32;

function randomIds(rand: () => number, rows: number, len: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: len }, () => Math.floor(rand() * VOCAB)));
}

/** The data of one seed: training pairs (prompt + completion rows) and held-out sequences. */
export function driftData(seed: number): { chosen: number[][]; rejected: number[][]; heldOut: number[][] } {
  const rand = mulberry32(seed * 7919 + 17);
  const prompts = randomIds(rand, TRAIN_PAIRS, PROMPT);
  const chosen = randomIds(rand, TRAIN_PAIRS, COMPLETION).map((c, i) => [...(prompts[i] as number[]), ...c]);
  const rejected = randomIds(rand, TRAIN_PAIRS, COMPLETION).map((c, i) => [
    ...(prompts[i] as number[]),
    ...c,
  ]);
  return { chosen, rejected, heldOut: randomIds(rand, HELD_OUT, PROMPT + COMPLETION) };
}

/** The policy of one seed (and of its reference, a clone). */
export function driftPolicy(seed: number, dim = 16, numLayers = 1): TinyLM {
  return new TinyLM({ vocabSize: VOCAB, dim, numLayers, numHeads: 2, maxSeqLen: PROMPT + COMPLETION, seed });
}

/** Prompt length of {@link driftData}'s rows (the rest is the completion). */
export const DRIFT_PROMPT_LENGTH = PROMPT;

/** Relative squared distance Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² of two models' last hidden states on `ids`. */
export function lastHiddenDrift(policy: TinyLM, reference: TinyLM, ids: number[][]): number {
  const t = tf.tensor2d(ids, undefined, 'int32');
  try {
    return measureDrift(policy, reference, t);
  } finally {
    t.dispose();
  }
}

/** The critics' input for `ids` from one forward output. */
function criticInput(
  out: { hidden: tf.Tensor3D; middle?: tf.Tensor3D },
  layer: 'last' | 'middle',
): tf.Tensor3D {
  if (layer === 'last') return out.hidden;
  if (!out.middle) throw new Error('criticLayer middle needs numLayers >= 2');
  return out.middle;
}

/** Hidden states of `ids` under `lm` at `layer`, no gradient. */
function hidden(lm: LayeredLM, ids: tf.Tensor2D, layer: 'last' | 'middle' = 'last'): tf.Tensor3D {
  return tf.tidy(() => criticInput(lm.forward(ids), layer));
}

/** Relative squared distance of the policy's latents from the reference's at `layer`. */
function measureDrift(
  policy: LayeredLM,
  reference: LayeredLM,
  ids: tf.Tensor2D,
  layer: 'last' | 'middle' = 'last',
): number {
  return tf.tidy(() => {
    const hp = hidden(policy, ids, layer);
    const hr = hidden(reference, ids, layer);
    const num = tf.sum(tf.square(tf.sub(hp, hr)));
    const den = tf.sum(tf.square(hr));
    return (tf.div(num, den).dataSync()[0] as number) ?? Number.NaN;
  });
}

function harnessGenerator(
  reg: GanpoRegularizer,
  kind: Exclude<HarnessGenerator, 'library'>,
  pc: tf.Tensor3D,
  pr: tf.Tensor3D,
  rc: tf.Tensor3D,
  rr: tf.Tensor3D,
): tf.Scalar {
  const side = (
    d: GanpoRegularizer['discriminators']['chosen'],
    p: tf.Tensor3D,
    r: tf.Tensor3D,
    mRef: number,
  ) => {
    if (kind === 'fm-paired' || kind === 'fm-paired-sum') {
      const fp = (d.features as NonNullable<typeof d.features>)(p, { training: false });
      const fr = (d.features as NonNullable<typeof d.features>)(r, { training: false });
      const sq = tf.square(tf.sub(fp, fr));
      return kind === 'fm-paired' ? tf.mean(sq) : tf.mean(tf.sum(sq, -1));
    }
    const sp = d.apply(p, { training: false });
    if (kind === 'official') return tf.mean(tf.softplus(tf.neg(tf.sub(sp, mRef))));
    // Reference latents are constants and only the policy's variables are differentiated.
    const srC = d.apply(r, { training: false });
    if (kind === 'ragan2') {
      const mP = tf.mean(sp);
      const mR = tf.mean(srC);
      return tf.mul(
        tf.add(tf.mean(tf.softplus(tf.sub(srC, mP))), tf.mean(tf.softplus(tf.neg(tf.sub(sp, mR))))),
        0.5,
      );
    }
    if (kind === 'ls-mean') return tf.square(tf.sub(tf.mean(sp), tf.mean(srC)));
    return tf.mean(tf.square(tf.sub(sp, srC)));
  };
  const m = reg.means;
  const gc = side(reg.discriminators.chosen, pc, rc, m.chosen.reference ?? 0);
  const gr = side(reg.discriminators.rejected, pr, rr, m.rejected.reference ?? 0);
  return tf.mul(tf.add(gc, gr), 0.5) as tf.Scalar;
}

/** Trains one policy and measures its held-out drift. Deterministic for a given config and backend. */
export function runDrift(config: DriftRunConfig): DriftRunResult {
  const t0 = Date.now();
  const steps = config.steps ?? 80;
  const lr = config.learningRate ?? 5e-3;
  const batch = config.batchSize ?? 8;
  const policy = driftPolicy(config.seed, config.dim ?? 16, config.numLayers ?? 1);
  const reference = policy.clone();
  const policyL = layered(policy);
  const referenceL = layered(reference);
  const layer = config.criticLayer ?? 'last';
  const data = driftData(config.seed);
  const { chosen, rejected } = data;
  const heldOut = tf.tensor2d(data.heldOut, undefined, 'int32');
  const lossMask = tf.tensor2d(
    Array.from({ length: batch }, () => [...Array(PROMPT).fill(0), ...Array(COMPLETION).fill(1)]),
    undefined,
    'float32',
  );
  const opt = new AdamW({ learningRate: lr, weightDecay: 0.01 });
  const vars = policy.trainableVariables;
  const g = config.ganpo;
  const reg = g
    ? (() => {
        const { criticLearningRate, criticBeta1, criticBeta2, criticSteps: _steps, ...options } = g;
        return new GanpoRegularizer({
          ...options,
          latentDim: policy.config.dim,
          seed: g.seed ?? config.seed + 100,
          ...(criticLearningRate !== undefined
            ? {
                optimizer: new AdamW({
                  learningRate: criticLearningRate,
                  weightDecay: 0.01,
                  beta1: criticBeta1 ?? 0.9,
                  beta2: criticBeta2 ?? 0.999,
                }),
              }
            : {}),
        });
      })()
    : undefined;
  const generator = config.generator ?? 'library';
  const tenth = Math.max(1, Math.ceil(steps / 10));
  const tail = {
    critic: [] as number[],
    criticTenth: [] as number[],
    pref: [] as number[],
    adv: [] as number[],
  };
  try {
    for (let step = 0; step < steps; step++) {
      const start = (step * batch) % TRAIN_PAIRS;
      const ids = (rows: number[][]) => tf.tensor2d(rows.slice(start, start + batch), undefined, 'int32');
      const c = ids(chosen);
      const r = ids(rejected);
      const refOut = tf.tidy(() => {
        const oc = referenceL.forward(c);
        const or = referenceL.forward(r);
        return {
          lc: causalLogProbs({ logits: oc.logits, inputIds: c, lossMask }).sum,
          lr: causalLogProbs({ logits: or.logits, inputIds: r, lossMask }).sum,
          hc: criticInput(oc, layer),
          hr: criticInput(or, layer),
        };
      });
      let criticLoss = Number.NaN;
      if (reg) {
        const pc = hidden(policyL, c, layer);
        const pr = hidden(policyL, r, layer);
        let res = { lossChosen: 0, lossRejected: 0 };
        for (let k = 0; k < (g ? (g.criticSteps ?? 1) : 1); k++) {
          const out = reg.discriminatorStep({
            policyChosenLatents: pc,
            policyRejectedLatents: pr,
            referenceChosenLatents: refOut.hc,
            referenceRejectedLatents: refOut.hr,
          });
          if (k === 0) res = out;
        }
        tf.dispose([pc, pr]);
        criticLoss = (res.lossChosen + res.lossRejected) / 2;
        if (step >= steps - 10) tail.critic.push(criticLoss);
        if (step >= steps - tenth) tail.criticTenth.push(criticLoss);
      }
      let parts = { pref: 0, adv: Number.NaN };
      const terms = (): { pref: tf.Scalar; adv?: tf.Scalar } => {
        const oc = policyL.forward(c, { training: true });
        const or = policyL.forward(r, { training: true });
        const lc = causalLogProbs({ logits: oc.logits, inputIds: c, lossMask });
        const lrr = causalLogProbs({ logits: or.logits, inputIds: r, lossMask });
        const pref =
          config.objective === 'dpo'
            ? dpoLoss({
                policyChosenLogps: lc.sum,
                policyRejectedLogps: lrr.sum,
                referenceChosenLogps: refOut.lc,
                referenceRejectedLogps: refOut.lr,
                beta: 0.1,
              })
            : simpoLoss({ policyChosenLogps: lc.mean, policyRejectedLogps: lrr.mean });
        if (!reg) return { pref: pref.loss };
        if (generator === 'library') {
          const out = ganpoLoss({
            regularizer: reg,
            preference: pref,
            policyChosenLatents: criticInput(oc, layer),
            policyRejectedLatents: criticInput(or, layer),
            referenceChosenLatents: refOut.hc,
            referenceRejectedLatents: refOut.hr,
          });
          return { pref: out.preferenceLoss, adv: out.regularizerLoss };
        }
        return {
          pref: pref.loss,
          adv: harnessGenerator(
            reg,
            generator,
            criticInput(oc, layer),
            criticInput(or, layer),
            refOut.hc,
            refOut.hr,
          ),
        };
      };
      let lambda = reg ? reg.weight : 0;
      if (reg && config.adaptiveWeight) {
        // VQGAN's balance: gradient norms of each term over the policy's variables.
        const norm = (pick: (t: { pref: tf.Scalar; adv?: tf.Scalar }) => tf.Scalar): number => {
          const { value, grads } = tf.variableGrads(() => tf.tidy(() => pick(terms())), vars);
          const n = tf.tidy(
            () => tf.sqrt(tf.addN(Object.values(grads).map((x) => tf.sum(tf.square(x))))).dataSync()[0],
          ) as number;
          tf.dispose([value, grads]);
          return n;
        };
        const gp = norm((t) => t.pref);
        const ga = norm((t) => t.adv as tf.Scalar);
        lambda = Math.min(Math.max(gp / (ga + 1e-4), 0), config.adaptiveMax ?? 10) * reg.weight;
      }
      const { value, grads } = tf.variableGrads(() => {
        const t = terms();
        const p = t.pref.dataSync()[0] as number;
        parts = { pref: p, adv: t.adv ? (t.adv.dataSync()[0] as number) : Number.NaN };
        return t.adv ? (tf.add(t.pref, tf.mul(t.adv, lambda)) as tf.Scalar) : t.pref;
      }, vars);
      opt.applyGradients(grads);
      tf.dispose([value, grads, c, r, refOut]);
      config.onStep?.(step, criticLoss, parts.pref, parts.adv);
      if (config.onEval && (step + 1) % (config.evalEvery ?? 40) === 0) {
        config.onEval(step + 1, measureDrift(policyL, referenceL, heldOut));
      }
      if (step >= steps - 10) {
        tail.pref.push(parts.pref);
        tail.adv.push(parts.adv);
      }
    }
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
    return {
      drift: measureDrift(policyL, referenceL, heldOut),
      driftMiddle:
        (config.numLayers ?? 1) >= 2 ? measureDrift(policyL, referenceL, heldOut, 'middle') : Number.NaN,
      criticLoss: mean(tail.critic),
      criticLossLastTenth: mean(tail.criticTenth),
      preferenceLoss: mean(tail.pref),
      adversarialLoss: mean(tail.adv),
      ms: Date.now() - t0,
    };
  } finally {
    reg?.dispose();
    opt.dispose();
    tf.dispose([heldOut, lossMask]);
    policy.model.dispose();
    reference.model.dispose();
  }
}
