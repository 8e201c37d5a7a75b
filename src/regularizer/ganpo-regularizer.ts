import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import {
  assertBinary,
  assertFinite,
  assertNumber,
  assertOneOf,
  assertRank,
  assertShape,
  checksShapes,
  fmtShape,
} from '../core/validate';
import { MLPDiscriminator, type MLPDiscriminatorConfig } from '../discriminators/mlp';
import { TransformerDiscriminator, type TransformerDiscriminatorConfig } from '../discriminators/transformer';
import type { Discriminator } from '../discriminators/types';
import { DIVERGENCES, type Divergence } from '../divergence/divergences';
import { ganpoDiscriminatorLoss, ganpoGeneratorLoss } from '../divergence/ganpo-losses';
import { relativisticDiscriminatorLoss } from '../divergence/relativistic';
import { RunningMean, type RunningMeanJSON } from '../divergence/running-mean';
import { stopGradient } from '../ops/stop-gradient';
import { AdamW, type AdamWState } from '../optim/adamw';

/** How the set means m of the relativistic losses are estimated. */
export type MeanEstimator = 'ema' | 'batch';
/** Every {@link MeanEstimator}: `'ema'` (official code) and `'batch'` (paper). */
export const MEAN_ESTIMATORS: readonly MeanEstimator[] = ['ema', 'batch'];

/** The three set means of one discriminator; `null` before the first discriminator step. */
export interface SideMeans {
  /** Mean score of the reference model's latents of this side. */
  reference: number | null;
  /** Mean score of the policy's latents of this side. */
  policy: number | null;
  /** Mean score of the reference model's latents of the opposite side. */
  opposite: number | null;
}

/** The six means: `chosen` for D_w, `rejected` for D_l (whose "reference" is h_ref^l, "opposite" h_ref^w). */
export interface GanpoMeansSnapshot {
  chosen: SideMeans;
  rejected: SideMeans;
}

/** Options shared by the constructor and {@link GanpoRegularizer.create}. */
export interface GanpoRegularizerOptions {
  /** λ, the adversarial weight in L = L_pref + λ·L_adv. Default 1 (the official runs). */
  weight?: number;
  /** The relativistic divergence. Default `'sgan'` (the official code's BCE-with-logits). */
  divergence?: Divergence;
  /**
   * `'ema'` (default, the official code): detached exponential moving averages of batch means,
   * updated with each batch before the discriminator loss. `'batch'` (the paper's form): the
   * within-batch means, with gradient in the discriminator loss.
   */
  estimator?: MeanEstimator;
  /** EMA momentum (`'ema'` only). Default 0.9 (official code). */
  momentum?: number;
  /**
   * Include the opposite-set terms (the official "quad" loss teaching reference > policy >
   * opposite). Default true. `false` gives plain RaGAN per discriminator (reference vs policy).
   */
  negatives?: boolean;
  /**
   * Optimizer for both discriminators. Default `new AdamW({ learningRate: 1e-4, weightDecay: 0.01 })`.
   * The official code uses AdamW with half the policy's learning rate, weight decay 0.01 and the
   * policy's warmup + cosine schedule; set `learningRate` accordingly (e.g. policy lr 5e-7 → 2.5e-7).
   */
  optimizer?: tf.Optimizer;
}

/** Arguments of the {@link GanpoRegularizer} constructor. */
export interface GanpoRegularizerArgs extends GanpoRegularizerOptions {
  /** D_w: tells reference chosen latents from policy chosen latents. */
  chosen: Discriminator;
  /** D_l: tells reference rejected latents from policy rejected latents. */
  rejected: Discriminator;
}

/** Latents of one batch for {@link GanpoRegularizer.discriminatorStep}; all are treated as constants. */
export interface DiscriminatorStepArgs {
  /** Policy hidden states of prompt+chosen, [B,Tc,H]. */
  policyChosen: tf.Tensor3D;
  /** Policy hidden states of prompt+rejected, [B,Tr,H]. */
  policyRejected: tf.Tensor3D;
  /** Reference-model hidden states of prompt+chosen, [B,Tc,H]. */
  referenceChosen: tf.Tensor3D;
  /** Reference-model hidden states of prompt+rejected, [B,Tr,H]. */
  referenceRejected: tf.Tensor3D;
  /** [B,Tc] 0/1 attention mask of the chosen sequences; omitted = every position counts (official code). */
  chosenMask?: tf.Tensor2D;
  /** [B,Tr] 0/1 attention mask of the rejected sequences. */
  rejectedMask?: tf.Tensor2D;
}

/** Result of one discriminator step (plain numbers, already read back). */
export interface DiscriminatorStepResult {
  lossChosen: number;
  lossRejected: number;
}

/** Arguments of {@link GanpoRegularizer.adversarialLoss}. */
export interface AdversarialLossArgs {
  /** Policy hidden states of prompt+chosen, [B,Tc,H], with gradient to the policy. */
  policyChosen: tf.Tensor3D;
  /** Policy hidden states of prompt+rejected, [B,Tr,H]. */
  policyRejected: tf.Tensor3D;
  chosenMask?: tf.Tensor2D;
  rejectedMask?: tf.Tensor2D;
  /**
   * Reference hidden states of prompt+chosen [B,Tc,H] (constants). Used only by the `'batch'`
   * estimator: the reference mean is then the mean score of these latents under the current
   * (just-updated) discriminator, so a constant shift of the critic cancels as it does in the
   * discriminator loss (the paper's within-batch form). Without them the `'batch'` estimator falls
   * back to the reference mean of the last discriminator step (pre-update scores).
   */
  referenceChosen?: tf.Tensor3D;
  /** Reference hidden states of prompt+rejected [B,Tr,H]; see `referenceChosen`. */
  referenceRejected?: tf.Tensor3D;
}

/** Arguments of {@link GanpoRegularizer.create}. */
export interface GanpoRegularizerCreateArgs extends GanpoRegularizerOptions {
  /** Hidden size H of the latents (the policy's last hidden state). */
  inputDim: number;
  /**
   * `'transformer'` (default, the official discriminator) or `'mlp'` (masked mean-pool + SN-MLP, for
   * small models and browsers).
   */
  kind?: 'transformer' | 'mlp';
  /**
   * Overrides of the discriminator config (both discriminators). Transformer defaults are the
   * official ones (hidden 512, 2 layers, 8 heads, FFN 2048, dropout 0.1, spectral norm).
   */
  discriminator?:
    | Partial<Omit<TransformerDiscriminatorConfig, 'inputDim'>>
    | Partial<Omit<MLPDiscriminatorConfig, 'inputDim'>>;
  /** Seed for the discriminators' initialisation (the rejected one uses seed + 1). */
  seed?: number;
}

/** A tensor in plain JSON. */
export interface SerializedTensor {
  shape: number[];
  data: number[];
}

/**
 * Everything a regularizer needs to continue exactly where it stopped: options, means, both
 * discriminators' state dicts (PyTorch names, spectral-norm u/v included) and the optimizer state.
 * Plain JSON: `JSON.stringify` round-trips it exactly (float32 values are exact as doubles).
 */
export interface GanpoRegularizerState {
  format: 'ganpo-regularizer';
  version: 1;
  options: {
    weight: number;
    divergence: Divergence;
    estimator: MeanEstimator;
    momentum: number;
    negatives: boolean;
  };
  steps: number;
  means: {
    running: Record<'chosen' | 'rejected', Record<'reference' | 'policy' | 'opposite', RunningMeanJSON>>;
    batch: GanpoMeansSnapshot | null;
  };
  discriminators: Record<'chosen' | 'rejected', Record<string, SerializedTensor>>;
  /**
   * AdamW state with slots keyed by position (`chosen/0`, `rejected/3`, … in `trainableVariables`
   * order) rather than by variable name: tfjs renames re-created variables, positions are stable.
   * `null` when the optimizer is not an {@link AdamW}.
   */
  optimizer: AdamWState | null;
}

type Side = 'chosen' | 'rejected';
type SetName = 'reference' | 'policy' | 'opposite';
const SIDES: readonly Side[] = ['chosen', 'rejected'];
const SETS: readonly SetName[] = ['reference', 'policy', 'opposite'];

/**
 * The GANPO latent adversarial regularizer (arXiv 2601.22083): two discriminators over hidden-state
 * sequences, D_w for chosen and D_l for rejected responses, their six set means, and their optimizer.
 *
 * Per training step, as the official code does:
 * 1. {@link discriminatorStep} on detached latents: each discriminator scores its reference,
 *    policy and opposite sets (three training-mode calls, one spectral-norm power iteration each);
 *    the means are updated with this batch; then one optimizer step on both discriminators with
 *
 *        L_D = ¼[ℓreal(D(ref) − m_pol) + ℓfake(D(pol) − m_ref) + ℓreal(D(pol) − m_opp) + ℓfake(D(opp) − m_pol)].
 *
 * 2. {@link adversarialLoss} inside the policy's gradient computation, discriminators in eval mode:
 *
 *        L_adv = ½[ℓreal(D_w(h_θ^w) − m_w,ref) + ℓreal(D_l(h_θ^l) − m_l,ref)],
 *
 *    added to the preference loss with weight λ by {@link ganpoLoss}.
 *
 * Always pass the policy's variable list to `tf.variableGrads` / `minimize`: without it tfjs
 * differentiates every trainable variable in the process, the discriminators' included.
 */
export class GanpoRegularizer {
  readonly discriminators: Readonly<{ chosen: Discriminator; rejected: Discriminator }>;
  readonly weight: number;
  readonly divergence: Divergence;
  readonly estimator: MeanEstimator;
  readonly momentum: number;
  readonly negatives: boolean;
  readonly optimizer: tf.Optimizer;
  private running: Record<Side, Record<SetName, RunningMean>>;
  private batchMeans: GanpoMeansSnapshot | null = null;
  private steps = 0;
  private disposed = false;

  /**
   * A regularizer around two discriminators you built (see {@link GanpoRegularizer.create} to build
   * them too); see {@link GanpoRegularizerArgs}.
   */
  constructor(args: GanpoRegularizerArgs) {
    const where = 'GanpoRegularizer';
    if (args === null || typeof args !== 'object') {
      throw argumentError('INVALID_ARGUMENT', where, 'args', '{ chosen, rejected, ... }', String(args));
    }
    for (const side of SIDES) {
      const d = args[side] as unknown as Partial<Discriminator> | undefined;
      if (!d || typeof d.apply !== 'function' || !Array.isArray(d.trainableVariables)) {
        throw argumentError(
          'INVALID_ARGUMENT',
          where,
          side,
          'a Discriminator',
          d === undefined ? 'undefined' : typeof d,
        );
      }
    }
    if (args.chosen === args.rejected) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'rejected',
        'a discriminator distinct from chosen',
        'the same instance',
      );
    }
    if (args.chosen.inputDim !== args.rejected.inputDim) {
      throw argumentError(
        'SHAPE_MISMATCH',
        where,
        'rejected',
        `inputDim ${args.chosen.inputDim} (that of chosen)`,
        `inputDim ${args.rejected.inputDim}`,
      );
    }
    this.weight = assertNumber(where, 'weight', args.weight ?? 1, { min: 0 });
    this.divergence = assertOneOf(where, 'divergence', args.divergence ?? 'sgan', DIVERGENCES);
    this.estimator = assertOneOf(where, 'estimator', args.estimator ?? 'ema', MEAN_ESTIMATORS);
    this.momentum = assertNumber(where, 'momentum', args.momentum ?? 0.9, { min: 0, lessThan: 1 });
    if (args.negatives !== undefined && typeof args.negatives !== 'boolean') {
      throw argumentError('INVALID_OPTION', where, 'negatives', 'a boolean', typeof args.negatives);
    }
    this.negatives = args.negatives ?? true;
    if (args.optimizer !== undefined && !(args.optimizer instanceof tf.Optimizer)) {
      throw argumentError('INVALID_OPTION', where, 'optimizer', 'a tf.Optimizer', typeof args.optimizer);
    }
    this.optimizer = args.optimizer ?? new AdamW({ learningRate: 1e-4, weightDecay: 0.01 });
    this.discriminators = Object.freeze({ chosen: args.chosen, rejected: args.rejected });
    const makeSide = (): Record<SetName, RunningMean> => ({
      reference: new RunningMean({ momentum: this.momentum }),
      policy: new RunningMean({ momentum: this.momentum }),
      opposite: new RunningMean({ momentum: this.momentum }),
    });
    this.running = { chosen: makeSide(), rejected: makeSide() };
  }

  /**
   * Builds a regularizer with two fresh discriminators of the same architecture.
   *
   * @example
   * ```ts
   * const reg = GanpoRegularizer.create({ inputDim: 2304 });             // official setup
   * const small = GanpoRegularizer.create({ inputDim: 64, kind: 'mlp' }); // browsers, tiny models
   * ```
   */
  static create(args: GanpoRegularizerCreateArgs): GanpoRegularizer {
    const where = 'GanpoRegularizer.create';
    if (args === null || typeof args !== 'object') {
      throw argumentError('INVALID_ARGUMENT', where, 'args', '{ inputDim, ... }', String(args));
    }
    const inputDim = assertNumber(where, 'inputDim', args.inputDim, { min: 1, integer: true });
    const kind = assertOneOf(where, 'kind', args.kind ?? 'transformer', ['transformer', 'mlp'] as const);
    const seed =
      args.seed === undefined ? undefined : assertNumber(where, 'seed', args.seed, { integer: true });
    const make = (offset: number): Discriminator => {
      const s = seed === undefined ? undefined : seed + offset;
      return kind === 'mlp'
        ? new MLPDiscriminator({
            ...(args.discriminator as Partial<MLPDiscriminatorConfig>),
            inputDim,
            seed: s,
          })
        : new TransformerDiscriminator({
            ...(args.discriminator as Partial<TransformerDiscriminatorConfig>),
            inputDim,
            seed: s,
          });
    };
    const chosen = make(0);
    let rejected: Discriminator | undefined;
    try {
      rejected = make(1);
      return new GanpoRegularizer({ ...args, chosen, rejected });
    } catch (e) {
      chosen.dispose();
      rejected?.dispose();
      throw e;
    }
  }

  /** The hidden size the discriminators accept. */
  get inputDim(): number {
    return this.discriminators.chosen.inputDim;
  }

  /** Number of discriminator steps taken. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * The six current means (plain numbers; `null` before the first {@link discriminatorStep}). With
   * the `'batch'` estimator they are the last step's batch means.
   */
  get means(): GanpoMeansSnapshot {
    if (this.estimator === 'batch') {
      const empty: SideMeans = { reference: null, policy: null, opposite: null };
      return this.batchMeans ?? { chosen: { ...empty }, rejected: { ...empty } };
    }
    const side = (s: Side): SideMeans => ({
      reference: this.running[s].reference.value,
      policy: this.running[s].policy.value,
      opposite: this.running[s].opposite.value,
    });
    return { chosen: side('chosen'), rejected: side('rejected') };
  }

  /** Trainable variables of both discriminators (what {@link discriminatorStep} updates). */
  get trainableVariables(): tf.Variable[] {
    return [
      ...this.discriminators.chosen.trainableVariables,
      ...this.discriminators.rejected.trainableVariables,
    ];
  }

  /** A live regularizer called with an arguments object. */
  private assertCall(where: string, args: unknown): void {
    this.assertLive(where);
    if (args === null || typeof args !== 'object') {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'args',
        '{ policyChosen, policyRejected, ... }',
        String(args),
      );
    }
  }

  private assertLive(where: string): void {
    if (this.disposed) throw new GanpoError('DISPOSED', `${where}: the regularizer has been disposed`);
  }

  private validateLatents(
    where: string,
    pairs: readonly [string, tf.Tensor3D, string, tf.Tensor2D | undefined][],
  ): void {
    const hidden = this.inputDim;
    let batch: number | null = null;
    let batchName = '';
    for (const [name, latents, maskName, mask] of pairs) {
      assertRank(where, name, latents, 3);
      if (checksShapes()) {
        if (latents.shape[2] !== hidden) {
          throw argumentError(
            'SHAPE_MISMATCH',
            where,
            name,
            `hidden size ${hidden} (the discriminators' inputDim) in [B,T,H]`,
            `shape ${fmtShape(latents.shape)}`,
          );
        }
        if (batch === null) {
          batch = latents.shape[0];
          batchName = name;
        } else if (latents.shape[0] !== batch) {
          throw argumentError(
            'SHAPE_MISMATCH',
            where,
            name,
            `batch size ${batch} (that of '${batchName}')`,
            `shape ${fmtShape(latents.shape)}`,
          );
        }
      }
      if (mask !== undefined) {
        assertShape(where, maskName, mask, [latents.shape[0], latents.shape[1]], `[B,T] of '${name}'`);
        assertBinary(where, maskName, mask);
      }
      assertFinite(where, name, latents);
    }
  }

  /**
   * One discriminator update on a batch of latents (treated as constants), in the official order:
   * score the three sets per discriminator in training mode, update the means with this batch, then
   * one optimizer step on both discriminators minimising L_D(chosen) + L_D(rejected).
   *
   * Validation happens before anything changes: a refused call changes no weight, no mean and no
   * optimizer state. A non-finite loss is refused too (before the optimizer step and the mean
   * update), but the spectral-norm power iteration of that forward has already moved u and v.
   *
   * @returns both discriminator losses as numbers.
   * @throws GanpoError on bad latents or masks (rank 3, hidden size = inputDim, equal batch sizes,
   *   masks [B,T] of 0/1, finite values) and on a non-finite loss.
   */
  discriminatorStep(args: DiscriminatorStepArgs): DiscriminatorStepResult {
    const where = 'GanpoRegularizer.discriminatorStep';
    this.assertCall(where, args);
    const { policyChosen, policyRejected, referenceChosen, referenceRejected, chosenMask, rejectedMask } =
      args;
    this.validateLatents(where, [
      ['policyChosen', policyChosen, 'chosenMask', chosenMask],
      ['referenceChosen', referenceChosen, 'chosenMask', chosenMask],
      ['policyRejected', policyRejected, 'rejectedMask', rejectedMask],
      ['referenceRejected', referenceRejected, 'rejectedMask', rejectedMask],
    ]);
    if (checksShapes()) {
      for (const [a, an, b, bn] of [
        [policyChosen, 'policyChosen', referenceChosen, 'referenceChosen'],
        [policyRejected, 'policyRejected', referenceRejected, 'referenceRejected'],
      ] as const) {
        if (a.shape[1] !== b.shape[1]) {
          throw argumentError(
            'SHAPE_MISMATCH',
            where,
            bn,
            `sequence length ${a.shape[1]} (that of '${an}')`,
            `shape ${fmtShape(b.shape)}`,
          );
        }
      }
    }

    const inputs: Record<Side, { sets: Record<SetName, [tf.Tensor3D, tf.Tensor2D | undefined]> }> = {
      chosen: {
        sets: {
          reference: [referenceChosen, chosenMask],
          policy: [policyChosen, chosenMask],
          opposite: [referenceRejected, rejectedMask],
        },
      },
      rejected: {
        sets: {
          reference: [referenceRejected, rejectedMask],
          policy: [policyRejected, rejectedMask],
          opposite: [referenceChosen, chosenMask],
        },
      },
    };

    // EMA values this step would commit; committed only once the loss is known to be finite.
    const pending: Record<Side, Record<SetName, number>> = {
      chosen: { reference: 0, policy: 0, opposite: 0 },
      rejected: { reference: 0, policy: 0, opposite: 0 },
    };
    const raw: Record<Side, Record<SetName, number>> = {
      chosen: { reference: 0, policy: 0, opposite: 0 },
      rejected: { reference: 0, policy: 0, opposite: 0 },
    };
    const lossParts: tf.Scalar[] = [];
    const variables = this.trainableVariables;
    const computeLoss = (): tf.Scalar => {
      // Three separate training-mode calls per discriminator, in PyTorch's order, so that each
      // advances the spectral-norm power iteration exactly as the official code does.
      const scores = {} as Record<Side, Record<SetName, tf.Tensor1D>>;
      for (const side of SIDES) {
        const d = this.discriminators[side];
        const s = {} as Record<SetName, tf.Tensor1D>;
        for (const set of SETS) {
          const [latents, mask] = inputs[side].sets[set];
          s[set] = d.apply(latents, { mask, training: true });
        }
        scores[side] = s;
      }
      // One read-back for the six batch means.
      const batchMeans = tf.stack(SIDES.flatMap((side) => SETS.map((set) => tf.mean(scores[side][set]))));
      const values = batchMeans.dataSync();
      let k = 0;
      for (const side of SIDES) {
        for (const set of SETS) {
          const x = values[k++] as number;
          raw[side][set] = x;
          const prev = this.running[side][set].value;
          pending[side][set] =
            this.estimator === 'batch' || prev === null ? x : this.momentum * prev + (1 - this.momentum) * x;
        }
      }
      const parts = SIDES.map((side) => {
        const s = scores[side];
        // 'batch': means omitted, so the losses use the batch means with gradient (RaGAN).
        const m = this.estimator === 'ema' ? pending[side] : undefined;
        return this.negatives
          ? ganpoDiscriminatorLoss({
              reference: s.reference,
              policy: s.policy,
              opposite: s.opposite,
              means: m ?? {},
              divergence: this.divergence,
            })
          : relativisticDiscriminatorLoss({
              real: s.reference,
              fake: s.policy,
              realMean: m?.reference,
              fakeMean: m?.policy,
              divergence: this.divergence,
            });
      });
      for (const p of parts) lossParts.push(tf.keep(p));
      return tf.add(parts[0] as tf.Scalar, parts[1] as tf.Scalar) as tf.Scalar;
    };
    // tfjs leaves the tape of a throwing gradient function (and every tensor it saved) behind, so a
    // failure inside the pass (e.g. NaN scores from diverged weights) ends it with a connected zero
    // instead and is reported once the tape is released.
    let failure: unknown;
    const { value, grads } = tf.variableGrads(() => {
      try {
        return computeLoss();
      } catch (e) {
        failure = e;
        return tf.mul(tf.addN(variables.map((v) => tf.sum(v))), 0) as tf.Scalar;
      }
    }, variables);
    if (failure !== undefined) {
      tf.dispose([value, ...lossParts, ...Object.values(grads)]);
      if (failure instanceof GanpoError && failure.code === 'NON_FINITE') {
        throw argumentError(
          'NON_FINITE',
          where,
          'loss',
          'finite discriminator scores and losses',
          failure.message,
        );
      }
      throw failure;
    }

    const losses = lossParts.map((p) => p.dataSync()[0] as number);
    tf.dispose(lossParts);
    value.dispose();
    if (!losses.every(Number.isFinite)) {
      tf.dispose(grads);
      throw argumentError(
        'NON_FINITE',
        where,
        'loss',
        'finite discriminator losses',
        `chosen ${losses[0]}, rejected ${losses[1]}`,
      );
    }
    this.optimizer.applyGradients(grads);
    tf.dispose(grads);
    if (this.estimator === 'ema') {
      // The same EMA update the loss previewed in `pending`.
      for (const side of SIDES) for (const set of SETS) this.running[side][set].update(raw[side][set]);
    } else {
      this.batchMeans = {
        chosen: { ...pending.chosen },
        rejected: { ...pending.rejected },
      };
    }
    this.steps += 1;
    return { lossChosen: losses[0] as number, lossRejected: losses[1] as number };
  }

  /**
   * The policy-side adversarial loss, differentiable w.r.t. the latents:
   *
   *     L_adv = ½[ℓreal(D_w(policyChosen) − m_w,ref) + ℓreal(D_l(policyRejected) − m_l,ref)]
   *
   * averaged over the batch, with the discriminators in eval mode (no dropout, stored spectral-norm
   * vectors) and the reference means as constants. Call it inside the policy's
   * `tf.variableGrads(f, policyVariables)`.
   *
   * @returns a scalar the caller owns.
   * @throws GanpoError before the first {@link discriminatorStep} (no means yet), and on bad
   *   latents or masks.
   */
  adversarialLoss(args: AdversarialLossArgs): tf.Scalar {
    const where = 'GanpoRegularizer.adversarialLoss';
    this.assertCall(where, args);
    const { policyChosen, policyRejected, chosenMask, rejectedMask, referenceChosen, referenceRejected } =
      args;
    const useReference =
      this.estimator === 'batch' && referenceChosen !== undefined && referenceRejected !== undefined;
    this.validateLatents(where, [
      ['policyChosen', policyChosen, 'chosenMask', chosenMask],
      ['policyRejected', policyRejected, 'rejectedMask', rejectedMask],
      ...(useReference
        ? ([
            ['referenceChosen', referenceChosen, 'chosenMask', chosenMask],
            ['referenceRejected', referenceRejected, 'rejectedMask', rejectedMask],
          ] as [string, tf.Tensor3D, string, tf.Tensor2D | undefined][])
        : []),
    ]);
    const means = this.means;
    const mChosen = means.chosen.reference;
    const mRejected = means.rejected.reference;
    if (mChosen === null || mRejected === null) {
      throw new GanpoError(
        'INVALID_STATE',
        `${where}: no reference means yet — call discriminatorStep on a batch first (the official order)`,
      );
    }
    return tf.tidy(() => {
      const { chosen, rejected } = this.discriminators;
      const sc = chosen.apply(policyChosen, { mask: chosenMask, training: false });
      const sr = rejected.apply(policyRejected, { mask: rejectedMask, training: false });
      // Reference scores are constants (constant latents, frozen critic): stopGradient keeps a
      // variableGrads over every variable from reaching the discriminators through them.
      const refMean = (d: Discriminator, h: tf.Tensor3D, mask?: tf.Tensor2D): tf.Scalar =>
        stopGradient(tf.mean(d.apply(h, { mask, training: false })) as tf.Scalar);
      const mc = useReference ? refMean(chosen, referenceChosen as tf.Tensor3D, chosenMask) : mChosen;
      const mr = useReference ? refMean(rejected, referenceRejected as tf.Tensor3D, rejectedMask) : mRejected;
      const gc = ganpoGeneratorLoss({ policy: sc, referenceMean: mc, divergence: this.divergence });
      const gr = ganpoGeneratorLoss({ policy: sr, referenceMean: mr, divergence: this.divergence });
      return tf.mul(tf.add(gc, gr), 0.5) as tf.Scalar;
    });
  }

  /** Frees both discriminators and the optimizer's state. */
  dispose(): void {
    if (this.disposed) return;
    this.discriminators.chosen.dispose();
    this.discriminators.rejected.dispose();
    this.optimizer.dispose();
    this.disposed = true;
  }

  private slotKeys(): Map<string, string> {
    const keys = new Map<string, string>();
    for (const side of SIDES) {
      this.discriminators[side].trainableVariables.forEach((v, i) => {
        keys.set(v.name, `${side}/${i}`);
      });
    }
    return keys;
  }

  /**
   * The whole state as plain JSON (one read-back per tensor): restoring it into a regularizer of the
   * same architecture with {@link loadState} continues bit-for-bit like an uninterrupted run.
   */
  getState(): GanpoRegularizerState {
    this.assertLive('GanpoRegularizer.getState');
    const dump = (d: Discriminator): Record<string, SerializedTensor> => {
      const sd = d.stateDict();
      const out: Record<string, SerializedTensor> = {};
      for (const [k, t] of Object.entries(sd))
        out[k] = { shape: [...t.shape], data: Array.from(t.dataSync()) };
      tf.dispose(Object.values(sd));
      return out;
    };
    let optimizer: AdamWState | null = null;
    if (this.optimizer instanceof AdamW) {
      const raw = this.optimizer.saveState();
      const keys = this.slotKeys();
      const slots: AdamWState['slots'] = {};
      for (const [name, slot] of Object.entries(raw.slots)) slots[keys.get(name) ?? name] = slot;
      optimizer = { ...raw, slots };
    }
    const running = (side: Side): Record<SetName, RunningMeanJSON> => ({
      reference: this.running[side].reference.toJSON(),
      policy: this.running[side].policy.toJSON(),
      opposite: this.running[side].opposite.toJSON(),
    });
    return {
      format: 'ganpo-regularizer',
      version: 1,
      options: {
        weight: this.weight,
        divergence: this.divergence,
        estimator: this.estimator,
        momentum: this.momentum,
        negatives: this.negatives,
      },
      steps: this.steps,
      means: {
        running: { chosen: running('chosen'), rejected: running('rejected') },
        batch: this.batchMeans,
      },
      discriminators: {
        chosen: dump(this.discriminators.chosen),
        rejected: dump(this.discriminators.rejected),
      },
      optimizer,
    };
  }

  /**
   * Restores a state from {@link getState}. The options (weight, divergence, estimator, momentum,
   * negatives) must equal this regularizer's. All or nothing: on any error nothing changes.
   *
   * @throws GanpoError `INVALID_FORMAT` on a malformed state, `STATE_DICT_MISMATCH` on other options,
   *   a discriminator state that does not fit, or optimizer state for an optimizer that is not AdamW.
   */
  loadState(state: GanpoRegularizerState): void {
    const where = 'GanpoRegularizer.loadState';
    this.assertLive(where);
    if (
      state === null ||
      typeof state !== 'object' ||
      state.format !== 'ganpo-regularizer' ||
      state.version !== 1
    ) {
      throw argumentError(
        'INVALID_FORMAT',
        where,
        'state',
        "{ format: 'ganpo-regularizer', version: 1, ... }",
        typeof state === 'object' && state !== null ? `format ${String(state.format)}` : String(state),
      );
    }
    const mine = {
      weight: this.weight,
      divergence: this.divergence,
      estimator: this.estimator,
      momentum: this.momentum,
      negatives: this.negatives,
    };
    for (const key of Object.keys(mine) as (keyof typeof mine)[]) {
      if (state.options?.[key] !== mine[key]) {
        throw argumentError(
          'STATE_DICT_MISMATCH',
          where,
          `options.${key}`,
          String(mine[key]),
          String(state.options?.[key]),
        );
      }
    }
    assertNumber(where, 'steps', state.steps, { min: 0, integer: true });
    // Parse everything first (these throw on malformed input and change nothing).
    const running = {} as Record<Side, Record<SetName, RunningMean>>;
    for (const side of SIDES) {
      running[side] = {} as Record<SetName, RunningMean>;
      for (const set of SETS) {
        const json = state.means?.running?.[side]?.[set];
        if (json === undefined) {
          throw argumentError(
            'INVALID_FORMAT',
            where,
            `means.running.${side}.${set}`,
            'a RunningMean JSON',
            'undefined',
          );
        }
        running[side][set] = RunningMean.fromJSON(json);
      }
    }
    if (state.optimizer !== null && !(this.optimizer instanceof AdamW)) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        'optimizer',
        'null (this optimizer is not AdamW)',
        'an AdamW state',
      );
    }
    const toTensors = (side: Side): Record<string, tf.Tensor> => {
      const entries = state.discriminators?.[side];
      if (entries === null || typeof entries !== 'object') {
        throw argumentError(
          'INVALID_FORMAT',
          where,
          `discriminators.${side}`,
          'a state dict',
          String(entries),
        );
      }
      const out: Record<string, tf.Tensor> = {};
      try {
        for (const [k, v] of Object.entries(entries)) {
          const size = Array.isArray(v?.shape) ? v.shape.reduce((a, b) => a * b, 1) : -1;
          if (!Array.isArray(v?.data) || v.data.length !== size) {
            throw argumentError(
              'INVALID_FORMAT',
              where,
              `discriminators.${side}.${k}`,
              '{ shape, data } with data of the shape size',
              'a malformed tensor',
            );
          }
          out[k] = tf.tensor(v.data, v.shape, 'float32');
        }
      } catch (e) {
        tf.dispose(Object.values(out));
        throw e;
      }
      return out;
    };
    const incoming = { chosen: toTensors('chosen'), rejected: {} as Record<string, tf.Tensor> };
    const backup: Partial<Record<Side, Record<string, tf.Tensor>>> = {};
    try {
      incoming.rejected = toTensors('rejected');
      for (const side of SIDES) {
        backup[side] = this.discriminators[side].stateDict();
        this.discriminators[side].loadStateDict(incoming[side]);
      }
      if (state.optimizer !== null && this.optimizer instanceof AdamW) {
        const byKey = new Map<string, string>();
        for (const [name, key] of this.slotKeys()) byKey.set(key, name);
        this.optimizer.loadState(state.optimizer, { rename: (saved) => byKey.get(saved) ?? saved });
      }
    } catch (e) {
      for (const side of SIDES) {
        const b = backup[side];
        if (b) this.discriminators[side].loadStateDict(b);
      }
      throw e;
    } finally {
      tf.dispose([...Object.values(incoming.chosen), ...Object.values(incoming.rejected)]);
      for (const side of SIDES) tf.dispose(Object.values(backup[side] ?? {}));
    }
    for (const side of SIDES) for (const set of SETS) this.running[side][set] = running[side][set];
    this.batchMeans = state.means.batch === null ? null : structuredClone(state.means.batch);
    this.steps = state.steps;
  }
}
