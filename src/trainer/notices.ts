import type { GanpoRegularizer } from '../regularizer/ganpo-regularizer';
import type { TrainerConfig } from './config';
import type { CausalLM } from './forward';

const count = (n: number): string => n.toLocaleString('en-US');

/** Σ size over variables. */
export function parameterCount(variables: readonly { size: number }[]): number {
  let n = 0;
  for (const v of variables) n += v.size;
  return n;
}

/**
 * The trainer's construction notice: what it trains (variables and parameters of the policy, so a
 * model that exposes only part of its variables is noticed), the discriminators' size next to it,
 * and where the reference comes from.
 */
export function trainingSummary(
  config: TrainerConfig,
  regularizer: GanpoRegularizer | null,
  reference: CausalLM | 'copy' | 'initial' | undefined,
): string {
  const variables = config.policy.trainableVariables;
  const policy = parameterCount(variables);
  const critics = regularizer
    ? parameterCount([
        ...regularizer.discriminators.chosen.trainableVariables,
        ...regularizer.discriminators.rejected.trainableVariables,
      ])
    : 0;
  const referenceText =
    reference === 'initial'
      ? "'initial' (a snapshot of the policy's weights)"
      : reference === 'copy'
        ? "'copy' (policy.clone())"
        : reference === undefined
          ? 'none (precomputed cache or reference-free objective)'
          : 'the given model';
  return (
    `GanpoTrainer: training ${count(policy)} parameters in ${variables.length} variables ` +
    '(policy.trainableVariables; weights not listed there stay frozen)' +
    (regularizer
      ? `; GANPO discriminators: ${count(critics)} parameters (both)`
      : config.regularizer.kind === 'anchor' || config.regularizer.kind === 'mmd'
        ? `; latent ${config.regularizer.kind === 'anchor' ? 'anchor' : 'MMD'}, weight ${config.regularizer.weight}`
        : '; no latent regularizer') +
    `; reference: ${referenceText}.`
  );
}
