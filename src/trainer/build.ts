import { disposeCreatedOnThrow } from '../core/engine-guards';
import { argumentError } from '../core/errors';
import type { CausalLM } from '../core/types';
import { AdamW } from '../optim/adamw';
import { GanpoRegularizer } from '../regularizer/ganpo-regularizer';
import { type LatentPenalty, TRAINER, type TrainerConfig } from './config';
import { initialReference } from './initial-reference';
import { syncReference } from './sync-reference';

/** What a trainer builds from its checked options. */
export interface TrainerParts {
  optimizer: AdamW;
  regularizer: GanpoRegularizer | null;
  ownsRegularizer: boolean;
  /** The critic-free latent regularizer (anchor or MMD) and its λ, or `null`. */
  latentPenalty: Readonly<LatentPenalty> | null;
  /** Critic learning rate ÷ policy learning rate; `null` when the trainer does not schedule the critics. */
  discriminatorLearningRateRatio: number | null;
  reference: CausalLM | undefined;
  ownsReference: boolean;
}

/**
 * Builds the optimizers, the GANPO regularizer (when given as options) and the reference (a copy
 * or a snapshot of the policy, when asked for), all or nothing: whatever fails (the critics'
 * limits, the policy's `clone()`, a copy whose variables do not pair with the policy's for TR-DPO),
 * every tensor and variable built so far is freed before the error is rethrown.
 */
export function buildTrainerParts(config: TrainerConfig): TrainerParts {
  return disposeCreatedOnThrow(() => {
    const optimizer = new AdamW({ learningRate: config.schedule(0), weightDecay: config.weightDecay });
    const spec = config.regularizer;
    let regularizer: GanpoRegularizer | null = null;
    let discriminatorLearningRateRatio: number | null = null;
    if (spec.kind === 'build') {
      // The learning rate is set once the critics exist: its default depends on their kind.
      const criticOptimizer = new AdamW({ learningRate: 0, weightDecay: spec.weightDecay, ...spec.betas });
      regularizer = new GanpoRegularizer({ ...spec.options, optimizer: criticOptimizer });
      discriminatorLearningRateRatio = spec.learningRateRatio(regularizer.discriminators.chosen);
      criticOptimizer.learningRate = config.schedule(0) * discriminatorLearningRateRatio;
    } else if (spec.kind === 'given') {
      regularizer = spec.regularizer;
    }
    const given = config.reference;
    const reference =
      given === 'copy'
        ? (config.policy.clone as () => CausalLM)()
        : given === 'initial'
          ? initialReference(config.policy, TRAINER)
          : given;
    if (given === 'copy') checkCopy(config, reference as CausalLM);
    return {
      optimizer,
      regularizer,
      ownsRegularizer: spec.kind === 'build',
      latentPenalty:
        spec.kind === 'anchor' || spec.kind === 'mmd'
          ? Object.freeze({ kind: spec.kind, weight: spec.weight })
          : null,
      discriminatorLearningRateRatio,
      reference,
      ownsReference: given === 'copy' || given === 'initial',
    };
  });
}

/**
 * Checks the policy's `clone()` before the first step. With TR-DPO the copy must pair with the
 * policy variable by variable (same shapes, none shared), not fail at the first sync after a step
 * was applied (α = 0 checks and assigns nothing). Without it, a copy may differ in structure but
 * must not share a policy variable: it would move with the policy, and the DPO loss would stay at
 * log 2.
 */
function checkCopy(config: TrainerConfig, copy: CausalLM): void {
  const policy = config.policy.trainableVariables;
  if (config.syncReference !== null) {
    syncReference(policy, copy.trainableVariables, 0);
    return;
  }
  const own = new Set(policy);
  const shared = (copy.trainableVariables ?? []).find((v) => own.has(v));
  if (shared !== undefined) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'model.reference',
      "a 'copy' with its own variables (policy.clone() must copy the weights)",
      `a clone sharing the policy's variable '${shared.name}'`,
    );
  }
}
