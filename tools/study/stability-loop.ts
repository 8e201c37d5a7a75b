// One long run of the tiny policy (tools/study/tiny-policy.ts) in a hand-written loop, instrumented
// step by step: critic losses and floor skips, the critics' feature norms, the generator loss, the
// gradient norms that each term sends into the policy's latents, the batch drift; and, every
// `evalEvery` steps, the held-out measures. Variants of the regularizer are built here around the
// library's pieces so that a candidate fix can be measured before it goes into the library.
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  type Discriminator,
  dpoLoss,
  GanpoRegularizer,
  type GanpoRegularizerOptions,
  type PreferencePair,
} from '../../src/index';
import {
  evaluateTiny,
  responseLogps,
  responseMask,
  sequences,
  TINY_TASK,
  type TinyEval,
  TinyPolicy,
  type TinyTask,
  tinyPairs,
} from './tiny-policy';

/** The policy-side term. */
/** The options of a regularizer that builds its own critics, without `latentDim` (the loop gives it). */
export type GanpoOptions = Omit<Extract<GanpoRegularizerOptions, { latentDim: number }>, 'latentDim'>;

export type Penalty =
  | 'none' // DPO alone
  | 'ganpo' // the library's adversarialLoss (the regularizer's own generator)
  | 'fm-normalized' // paired feature matching divided by the batch's mean ‖f(h_ref)‖² (a constant)
  | 'fm-target' // paired feature matching through an EMA copy of each critic
  | 'anchor' // ½ Σ_side Σ‖h_θ − h_ref‖² / Σ‖h_ref‖²
  | 'mmd'; // unpaired squared MMD (Gaussian kernels) between policy and reference latent sets, per side

export interface LoopConfig {
  seed: number;
  steps: number;
  /** Policy AdamW learning rate (constant). Default 5e-3. */
  lr?: number;
  batch?: number;
  beta?: number;
  evalEvery?: number;
  penalty: Penalty;
  lambda?: number;
  /** Regularizer options (critic kind, preset, lossFloor, ...) for the critic-based penalties. */
  ganpo?: GanpoOptions;
  /** Critic AdamW learning rate; default create()'s. β (0, 0.9) unless `criticBetas`. */
  criticLr?: number;
  criticBetas?: [number, number];
  /** Instance noise: N(0, σ²) added to both latent sets in the critic step. */
  instanceNoise?: number;
  /** `fm-target`: divide by the batch's mean ‖f(h_ref)‖² as `fm-normalized` does. */
  normalize?: boolean;
  /** EMA rate of the target critic (`fm-target`). Default 0.99. */
  targetDecay?: number;
  /** Critic steps every k policy steps (1 = every step). */
  criticEvery?: number;
  task?: TinyTask;
  /** Training pairs drawn once and cycled in order; default a fresh batch every step. */
  trainPairs?: number;
  /** Policy AdamW β2 (default 0.999, PyTorch). */
  policyBeta2?: number;
  /** Record per-step instrumentation (costs extra gradient passes). Default true. */
  instrument?: boolean;
}

export interface StepRecord {
  step: number;
  criticLoss: [number, number];
  skipped: [boolean, boolean];
  /** Mean ‖f(h_ref)‖ and ‖f(h_θ) − f(h_ref)‖ of the chosen critic's features (batch). */
  featureNorm: number;
  featureGap: number;
  /** Sum of squares of the critics' trainable weights. */
  criticWeightNorm: number;
  generatorLoss: number;
  dpoLoss: number;
  /** ‖∂L_DPO/∂h‖ and ‖∂(λ·L_pen)/∂h‖ over the batch's policy latents (Frobenius). */
  gradDpo: number;
  gradPenalty: number;
  /** cos between the two latent gradients. */
  gradCos: number;
  batchDrift: number;
  /** ‖θ_after − θ_before‖ of the policy's update, in units of lr·√(#parameters). */
  updateSize: number;
  /** Σ_latents (∂(λ·L_pen)/∂h)·(h_θ − h_ref) / (‖∂(λ·L_pen)/∂h‖·‖h_θ − h_ref‖): > 0 when the penalty pulls towards the reference. */
  penaltyRestoring: number;
}

export interface LoopResult {
  config: LoopConfig;
  evals: (TinyEval & { step: number })[];
  records: StepRecord[];
  seconds: number;
}

/** Σ over sides of the relative squared distance, halved: the anchor of API 1.0. */
export function anchorTerm(pc: tf.Tensor3D, pr: tf.Tensor3D, rc: tf.Tensor3D, rr: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const side = (p: tf.Tensor3D, r: tf.Tensor3D) =>
      tf.div(tf.sum(tf.square(tf.sub(p, r))), tf.add(tf.sum(tf.square(r)), 1e-12));
    return tf.mul(tf.add(side(pc, rc), side(pr, rr)), 0.5) as tf.Scalar;
  });
}

/**
 * Squared MMD between the policy's and the reference's latent vectors of one side (every position a
 * sample, pairing ignored), with a sum of Gaussian kernels at bandwidths `scales` × the median
 * reference distance... here fixed multiples of the latent width, normalised by the reference's
 * mean squared norm so that one λ fits any scale.
 */
export function mmdTerm(pc: tf.Tensor3D, pr: tf.Tensor3D, rc: tf.Tensor3D, rr: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const side = (p3: tf.Tensor3D, r3: tf.Tensor3D) => {
      const H = p3.shape[2];
      const p = tf.reshape(p3, [-1, H]) as tf.Tensor2D;
      const r = tf.reshape(r3, [-1, H]) as tf.Tensor2D;
      const s2 = tf.add(tf.mean(tf.sum(tf.square(r), -1)), 1e-12); // scale of the reference latents
      const sq = (a: tf.Tensor2D, b: tf.Tensor2D) =>
        tf.maximum(
          tf.add(
            tf.sub(tf.sum(tf.square(a), -1, true), tf.mul(2, tf.matMul(a, b, false, true))),
            tf.reshape(tf.sum(tf.square(b), -1), [1, -1]),
          ),
          0,
        );
      const k = (d: tf.Tensor) => tf.addN([0.1, 0.5, 2].map((w) => tf.exp(tf.neg(tf.div(d, tf.mul(s2, w))))));
      return tf.sub(tf.add(tf.mean(k(sq(p, p))), tf.mean(k(sq(r, r)))), tf.mul(2, tf.mean(k(sq(p, r)))));
    };
    return tf.mul(tf.add(side(pc, rc), side(pr, rr)), 0.5) as tf.Scalar;
  });
}

/** ½ Σ_side mean_i ‖f(h_θ,i) − f(h_ref,i)‖² / (mean_i ‖f(h_ref,i)‖² + ε) through the critics `ds`. */
function normalizedFm(
  ds: readonly [Discriminator, Discriminator],
  pc: tf.Tensor3D,
  pr: tf.Tensor3D,
  rc: tf.Tensor3D,
  rr: tf.Tensor3D,
  normalize: boolean,
): tf.Scalar {
  return tf.tidy(() => {
    const side = (d: Discriminator, p: tf.Tensor3D, r: tf.Tensor3D) => {
      const f = d.features as NonNullable<Discriminator['features']>;
      const fp = f.call(d, p, { training: false });
      const fr = tf.tidy(() => f.call(d, r, { training: false }));
      const fm = tf.mean(tf.sum(tf.square(tf.sub(fp, fr)), -1));
      if (!normalize) return fm;
      // The scale is a constant of the step (no gradient through it).
      const scale = tf.tidy(() => tf.add(tf.mean(tf.sum(tf.square(fr), -1)), 1e-6));
      return tf.div(fm, scale);
    };
    return tf.mul(tf.add(side(ds[0], pc, rc), side(ds[1], pr, rr)), 0.5) as tf.Scalar;
  });
}

/** target ← decay·target + (1 − decay)·live on weights; spectral-norm vectors copied. */
function emaUpdate(target: Discriminator, live: Discriminator, decay: number): void {
  const liveState = live.stateDict();
  const targetState = target.stateDict();
  const next: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(liveState)) {
    const t = targetState[k] as tf.Tensor;
    next[k] =
      k.endsWith('weight_u') || k.endsWith('weight_v')
        ? v.clone()
        : tf.tidy(() => tf.add(tf.mul(t, decay), tf.mul(v, 1 - decay)));
  }
  target.loadStateDict(next);
  tf.dispose([...Object.values(liveState), ...Object.values(targetState), ...Object.values(next)]);
}

const norm = (t: tf.Tensor): tf.Scalar => tf.sqrt(tf.sum(tf.square(t))) as tf.Scalar;

/** Runs one configuration. Deterministic for a given config (seeded data, init and critics). */
export function runLoop(config: LoopConfig): LoopResult {
  const t0 = performance.now();
  const task = config.task ?? TINY_TASK;
  const lr = config.lr ?? 5e-3;
  const B = config.batch ?? 8;
  const beta = config.beta ?? 0.1;
  const lambda = config.lambda ?? 1;
  const evalEvery = config.evalEvery ?? 40;
  const instrument = config.instrument ?? true;
  const policy = new TinyPolicy(task, 1000 + config.seed);
  const reference = policy.clone();
  const nTrain = config.trainPairs ?? config.steps * B;
  const train = tinyPairs(task, 7919 * config.seed + 1, nTrain);
  const heldOut = tinyPairs(task, 7919 * config.seed + 2, 256);
  const mask = responseMask(task, B);
  const opt = new AdamW({ learningRate: lr, weightDecay: 0, beta2: config.policyBeta2 ?? 0.999 });
  const usesCritic = ['ganpo', 'fm-normalized', 'fm-target'].includes(config.penalty);
  const g: GanpoOptions = config.ganpo ?? {};
  const criticOpt =
    config.criticLr === undefined
      ? undefined
      : new AdamW({
          learningRate: config.criticLr,
          weightDecay: 0.01,
          beta1: config.criticBetas?.[0] ?? 0,
          beta2: config.criticBetas?.[1] ?? 0.9,
        });
  const reg = usesCritic
    ? new GanpoRegularizer({
        ...g,
        latentDim: task.latent,
        seed: g.seed ?? 100 + config.seed,
        ...(criticOpt ? { optimizer: criticOpt } : {}),
      })
    : undefined;
  const target =
    config.penalty === 'fm-target' && reg
      ? new GanpoRegularizer({ ...g, latentDim: task.latent, seed: g.seed ?? 100 + config.seed })
      : undefined;
  const evals: LoopResult['evals'] = [];
  const records: StepRecord[] = [];
  const evaluate = (step: number) => evals.push({ step, ...evaluateTiny(policy, reference, heldOut, beta) });
  try {
    evaluate(0);
    for (let step = 1; step <= config.steps; step++) {
      const start = ((step - 1) * B) % nTrain;
      const pairs: PreferencePair[] = train.slice(start, start + B);
      const c = sequences(pairs, 'chosen');
      const r = sequences(pairs, 'rejected');
      const ref = tf.tidy(() => {
        const oc = reference.forward(c);
        const or = reference.forward(r);
        return {
          lc: responseLogps(oc.logits, c, mask),
          lr: responseLogps(or.logits, r, mask),
          hc: oc.hidden,
          hr: or.hidden,
        };
      });
      const rec: StepRecord = {
        step,
        criticLoss: [Number.NaN, Number.NaN],
        skipped: [false, false],
        featureNorm: Number.NaN,
        featureGap: Number.NaN,
        criticWeightNorm: Number.NaN,
        generatorLoss: Number.NaN,
        dpoLoss: Number.NaN,
        gradDpo: Number.NaN,
        gradPenalty: Number.NaN,
        gradCos: Number.NaN,
        batchDrift: Number.NaN,
        updateSize: Number.NaN,
        penaltyRestoring: Number.NaN,
      };
      const pol = tf.tidy(() => ({ hc: policy.forward(c).hidden, hr: policy.forward(r).hidden }));
      if (reg && (step - 1) % (config.criticEvery ?? 1) === 0) {
        let draw = 0;
        const noisy = (x: tf.Tensor3D) =>
          config.instanceNoise
            ? (tf.tidy(() =>
                tf.add(x, tf.randomNormal(x.shape, 0, config.instanceNoise, 'float32', 7919 * step + draw++)),
              ) as tf.Tensor3D)
            : x;
        const inputs = {
          policyChosenLatents: noisy(pol.hc),
          policyRejectedLatents: noisy(pol.hr),
          referenceChosenLatents: noisy(ref.hc),
          referenceRejectedLatents: noisy(ref.hr),
        };
        const out = reg.discriminatorStep(inputs);
        if (config.instanceNoise) tf.dispose(Object.values(inputs));
        rec.criticLoss = [out.lossChosen, out.lossRejected];
        rec.skipped = [out.lossChosen < reg.lossFloor, out.lossRejected < reg.lossFloor];
        if (target) {
          emaUpdate(target.discriminators.chosen, reg.discriminators.chosen, config.targetDecay ?? 0.99);
          emaUpdate(target.discriminators.rejected, reg.discriminators.rejected, config.targetDecay ?? 0.99);
        }
      }
      const critics = (target ?? reg)?.discriminators;
      const penalty = (pc: tf.Tensor3D, pr: tf.Tensor3D): tf.Scalar => {
        switch (config.penalty) {
          case 'anchor':
            return anchorTerm(pc, pr, ref.hc, ref.hr);
          case 'mmd':
            return mmdTerm(pc, pr, ref.hc, ref.hr);
          case 'ganpo':
            return (reg as GanpoRegularizer).adversarialLoss({
              policyChosenLatents: pc,
              policyRejectedLatents: pr,
              referenceChosenLatents: ref.hc,
              referenceRejectedLatents: ref.hr,
            });
          case 'fm-normalized':
          case 'fm-target': {
            const ds = critics as NonNullable<typeof critics>;
            const normalize = config.penalty === 'fm-normalized' || config.normalize === true;
            return normalizedFm([ds.chosen, ds.rejected], pc, pr, ref.hc, ref.hr, normalize);
          }
          default:
            return tf.scalar(0);
        }
      };
      const dpoOf = (logitsC: tf.Tensor3D, logitsR: tf.Tensor3D): tf.Scalar =>
        dpoLoss({
          policyChosenLogps: responseLogps(logitsC, c, mask),
          policyRejectedLogps: responseLogps(logitsR, r, mask),
          referenceChosenLogps: ref.lc,
          referenceRejectedLogps: ref.lr,
          beta,
        }).loss;
      if (instrument) {
        // Gradients with respect to the policy's latents, through the model's own head.
        const head = (h: tf.Tensor3D) =>
          tf.reshape(
            tf.add(tf.matMul(tf.reshape(h, [-1, task.latent]), policy.vars.W as tf.Tensor2D), policy.vars.c),
            [h.shape[0], h.shape[1], task.vocab],
          ) as tf.Tensor3D;
        const [gd, gp, stats] = tf.tidy(() => {
          const gDpo = tf.grads((hc: tf.Tensor, hr: tf.Tensor) =>
            dpoOf(head(hc as tf.Tensor3D), head(hr as tf.Tensor3D)),
          )([pol.hc, pol.hr]);
          const gPen =
            config.penalty === 'none'
              ? [tf.zerosLike(pol.hc), tf.zerosLike(pol.hr)]
              : tf.grads((hc: tf.Tensor, hr: tf.Tensor) =>
                  tf.mul(penalty(hc as tf.Tensor3D, hr as tf.Tensor3D), lambda),
                )([pol.hc, pol.hr]);
          const flat = (xs: tf.Tensor[]) => tf.concat(xs.map((x) => tf.reshape(x, [-1])));
          const a = flat(gDpo);
          const b = flat(gPen);
          const cos = tf.div(tf.sum(tf.mul(a, b)), tf.add(tf.mul(norm(a), norm(b)), 1e-20));
          const delta = flat([tf.sub(pol.hc, ref.hc), tf.sub(pol.hr, ref.hr)]);
          const restoring = tf.div(tf.sum(tf.mul(b, delta)), tf.add(tf.mul(norm(b), norm(delta)), 1e-20));
          const parts: tf.Scalar[] = [norm(a), norm(b), cos as tf.Scalar, restoring as tf.Scalar];
          parts.push(
            tf.div(
              tf.add(tf.sum(tf.square(tf.sub(pol.hc, ref.hc))), tf.sum(tf.square(tf.sub(pol.hr, ref.hr)))),
              tf.add(tf.sum(tf.square(ref.hc)), tf.sum(tf.square(ref.hr))),
            ) as tf.Scalar,
          );
          if (critics) {
            const d = critics.chosen;
            const f = d.features as NonNullable<Discriminator['features']>;
            const fr = f.call(d, ref.hc, { training: false });
            const fp = f.call(d, pol.hc, { training: false });
            parts.push(tf.mean(tf.sqrt(tf.sum(tf.square(fr), -1))) as tf.Scalar);
            parts.push(tf.mean(tf.sqrt(tf.sum(tf.square(tf.sub(fp, fr)), -1))) as tf.Scalar);
            const w = [...critics.chosen.trainableVariables, ...critics.rejected.trainableVariables];
            parts.push(tf.addN(w.map((v) => tf.sum(tf.square(v)))) as tf.Scalar);
          }
          return [parts[0], parts[1], tf.stack(parts.slice(2))];
        });
        rec.gradDpo = (gd as tf.Tensor).dataSync()[0] as number;
        rec.gradPenalty = (gp as tf.Tensor).dataSync()[0] as number;
        const s = (stats as tf.Tensor).dataSync();
        rec.gradCos = s[0] as number;
        rec.penaltyRestoring = s[1] as number;
        rec.batchDrift = s[2] as number;
        if (critics) {
          rec.featureNorm = s[3] as number;
          rec.featureGap = s[4] as number;
          rec.criticWeightNorm = s[5] as number;
        }
        tf.dispose([gd, gp, stats]);
      }
      tf.dispose([pol.hc, pol.hr]);
      const parts = { dpo: 0, pen: 0 };
      const { value, grads } = tf.variableGrads(() => {
        const oc = policy.forward(c, { training: true });
        const or = policy.forward(r, { training: true });
        const d = dpoOf(oc.logits, or.logits);
        const p = penalty(oc.hidden, or.hidden);
        const both = tf.stack([d, p]).dataSync();
        parts.dpo = both[0] as number;
        parts.pen = both[1] as number;
        return tf.add(d, tf.mul(p, lambda)) as tf.Scalar;
      }, policy.trainableVariables);
      const before = instrument ? policy.trainableVariables.map((v) => v.clone()) : [];
      opt.applyGradients(grads);
      if (instrument) {
        const size = tf.tidy(() =>
          tf.sqrt(
            tf.addN(
              policy.trainableVariables.map((v, i) => tf.sum(tf.square(tf.sub(v, before[i] as tf.Tensor)))),
            ),
          ),
        );
        const count = policy.trainableVariables.reduce((n, v) => n + v.size, 0);
        rec.updateSize = (size.dataSync()[0] as number) / (lr * Math.sqrt(count));
        tf.dispose([size, ...before]);
      }
      tf.dispose([value, grads, c, r, ref]);
      rec.dpoLoss = parts.dpo;
      rec.generatorLoss = parts.pen;
      records.push(rec);
      if (step % evalEvery === 0) evaluate(step);
    }
    return { config, evals, records, seconds: (performance.now() - t0) / 1000 };
  } finally {
    reg?.dispose();
    target?.dispose();
    opt.dispose();
    mask.dispose();
    policy.dispose();
    reference.dispose();
  }
}
