// The recipes on the frontier: DPO alone over β (its own KL knob, the DPO paper's sweep), and DPO at
// β 0.1 with a latent regularizer over λ: the paired latent anchor, GANPO as the official code runs
// it, and GANPO's default with an MLP critic and with a transformer critic; and the ablation of what
// the critics' learning adds: the default with its critics frozen at initialisation; and the
// regularizer's current default (relative feature matching on Polyak-averaged target critics).
import type { PreferenceObjective, TrainerRegularizerOptions } from 'ganpo';
import type { Sweeps } from './config';

/** The families of recipes (each the frontier of one method), in table order, with their {@link Sweeps} entry. */
export const SWEEP_OF = {
  dpo: 'beta',
  anchor: 'anchor',
  official: 'official',
  mlp: 'mlp',
  transformer: 'transformer',
  'mlp-frozen': 'mlpFrozen',
  'transformer-frozen': 'transformerFrozen',
  'mlp-target': 'mlpTarget',
  'transformer-target': 'transformerTarget',
} as const satisfies Record<string, keyof Sweeps>;
/** The frontier a recipe belongs to. */
export type Family = keyof typeof SWEEP_OF;
export const FAMILIES = Object.keys(SWEEP_OF) as readonly Family[];

/**
 * The critic learning-rate ratio of the frozen ablation: AdamW then moves a weight by about 1e-9 × the
 * policy's rate per step, so the critics stay their initialisation (a random feature network the policy
 * is matched through) while everything else, compute included, is the default's.
 */
export const FROZEN_CRITIC_RATIO = 1e-9;

/** One preference-training recipe. */
export interface Method {
  /** Table label, e.g. `DPO β=0.3`, `anchor λ=0.1`. */
  name: string;
  family: Family;
  /** The swept knob's value: β for `dpo`, λ otherwise. */
  value: number;
  objective: PreferenceObjective;
  regularizer: TrainerRegularizerOptions | false;
}

/** The critics' seed, the same in every GANPO run (the seeds vary the data order). */
export const CRITIC_SEED = 7;

/**
 * GANPO's generator as the committed results ran it (the `'recommended'` preset's before target
 * critics): paired feature matching on the live critics. Explicit, so the recipes stay those runs.
 */
export const PAIRED_FEATURE_MATCHING = { generator: 'paired-feature-matching', targetDecay: 0 } as const;

/** β of every regularized run: TRL's default and the official GANPO runs'. */
export const BASE_BETA = 0.1;

/**
 * The transformer critic scaled to a small policy: one pre-LN layer of width 32, 2 heads (the official
 * critic has two layers of width 512 and 8 heads, sized for 2B-parameter policies; at this policy's
 * width it would cost many times the policy's step).
 */
export const SMALL_TRANSFORMER = {
  kind: 'transformer',
  hiddenDim: 32,
  numLayers: 1,
  numHeads: 2,
  ffnDim: 64,
} as const;

const label = (family: Family, value: number): string =>
  family === 'dpo' ? `DPO β=${value}` : `${family} λ=${value}`;

/** The recipes of `sweeps`; `criticSeed` seeds the critics of every GANPO run alike. */
export function frontierMethods(sweeps: Sweeps, criticSeed: number): Method[] {
  const dpo = (beta: number): PreferenceObjective => ({ kind: 'dpo', beta });
  const out: Method[] = sweeps.beta.map((beta) => ({
    name: label('dpo', beta),
    family: 'dpo',
    value: beta,
    objective: dpo(beta),
    regularizer: false,
  }));
  const regularized: [Family, readonly number[], (weight: number) => TrainerRegularizerOptions][] = [
    ['anchor', sweeps.anchor, (weight) => ({ kind: 'anchor', weight })],
    [
      'official',
      sweeps.official,
      (weight) => ({ preset: 'official', critic: SMALL_TRANSFORMER, weight, seed: criticSeed }),
    ],
    [
      'mlp',
      sweeps.mlp,
      (weight) => ({ critic: { kind: 'mlp' }, weight, seed: criticSeed, ...PAIRED_FEATURE_MATCHING }),
    ],
    [
      'transformer',
      sweeps.transformer,
      (weight) => ({ critic: SMALL_TRANSFORMER, weight, seed: criticSeed, ...PAIRED_FEATURE_MATCHING }),
    ],
    [
      'mlp-frozen',
      sweeps.mlpFrozen,
      (weight) => ({
        critic: { kind: 'mlp' },
        weight,
        seed: criticSeed,
        ...PAIRED_FEATURE_MATCHING,
        criticLearningRateRatio: FROZEN_CRITIC_RATIO,
      }),
    ],
    [
      'transformer-frozen',
      sweeps.transformerFrozen,
      (weight) => ({
        critic: SMALL_TRANSFORMER,
        weight,
        seed: criticSeed,
        ...PAIRED_FEATURE_MATCHING,
        criticLearningRateRatio: FROZEN_CRITIC_RATIO,
      }),
    ],
    // The regularizer's own defaults: no generator or targetDecay given.
    ['mlp-target', sweeps.mlpTarget, (weight) => ({ critic: { kind: 'mlp' }, weight, seed: criticSeed })],
    [
      'transformer-target',
      sweeps.transformerTarget,
      (weight) => ({ critic: SMALL_TRANSFORMER, weight, seed: criticSeed }),
    ],
  ];
  for (const [family, values, make] of regularized) {
    for (const value of values) {
      out.push({
        name: label(family, value),
        family,
        value,
        objective: dpo(BASE_BETA),
        regularizer: make(value),
      });
    }
  }
  return out;
}
