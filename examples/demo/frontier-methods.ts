// The recipes of `npm run demo -- --frontier`: DPO alone over β (its own regularization knob), and
// DPO at the demo's β with a latent regularizer over λ: the paired latent anchor, the unpaired
// latent MMD, GANPO as the official code runs it, GANPO with paired feature matching (the previous
// default) with an MLP and with a small transformer critic, the same with its critics frozen at
// initialisation (what the critic's learning adds), and GANPO variants named by their options.
import type { TrainerRegularizerOptions } from 'ganpo';
import { SMALL_TRANSFORMER } from '../sentiment/methods';
import { type FrontierFamily, type MethodSpec, OBJECTIVES, OFFICIAL_GANPO } from './methods';

/** The GANPO options of a recipe. */
type GanpoOptions = Extract<TrainerRegularizerOptions, { kind?: 'ganpo' }>;

/** The swept values of each frontier: β for `dpo`, λ for the others. */
export type FrontierSweeps = Record<FrontierFamily, readonly number[]>;

/**
 * The study's sweeps. β brackets the demo's 0.1 on both sides, up to values where DPO alone keeps
 * the latents about as close as the strongest regularized runs, so that DPO's curve spans their KL
 * and drift. The λ ranges reach from little effect to latents held close to the reference; the
 * anchor's loss is the relative drift itself (about 0.3 or less in these runs), hence its range
 * reaching λ = 3.
 */
export const FRONTIER_SWEEPS: FrontierSweeps = {
  dpo: [0.03, 0.1, 0.3, 1, 3, 10, 30],
  anchor: [0.003, 0.01, 0.03, 0.1, 0.3, 1, 3],
  official: [1],
  mlp: [0.3, 1, 3],
  transformer: [0.3, 1, 3],
  'mlp-frozen': [1],
  'transformer-frozen': [1],
  mmd: [0.1, 1, 10],
  'variant-mlp': [1, 3],
  'variant-transformer': [1, 3],
};

/** Seeds the critics of every GANPO recipe alike (the demo's own GANPO runs use the same seed). */
export const FRONTIER_CRITIC_SEED = 7;

/**
 * Critic learning rate of the frozen ablation, as a fraction of the policy's. The trainer refuses 0;
 * at 1e-9 × the demo's 5e-4 an AdamW step moves a weight by at most about 5e-13 per step, below
 * float32 resolution of weights of order 1e-2, so the critics stay at their initialisation.
 */
export const FROZEN_CRITIC_RATIO = 1e-9;

/**
 * GANPO variants on the frontier, named by the options that differ from the default so that their
 * rows stay meaningful whatever the default becomes. Each is run with the MLP critic
 * (`variant-mlp`) and the small transformer critic (`variant-transformer`).
 */
export const FRONTIER_VARIANTS: readonly { label: string; options: Partial<GanpoOptions> }[] = [
  {
    label: 'relative-FM target 0.99',
    options: { generator: 'relative-feature-matching', targetDecay: 0.99 },
  },
];

/**
 * The policy term of the `mlp` / `transformer` rows: paired feature matching on the live critics, the
 * `'recommended'` preset's default before target critics; given explicitly so that these rows keep
 * measuring the same recipe whatever the preset's default is.
 */
const PREVIOUS_DEFAULT = { generator: 'paired-feature-matching', targetDecay: 0 } as const;

/** The critic of each GANPO frontier family. */
const CRITICS = {
  mlp: { kind: 'mlp' },
  transformer: SMALL_TRANSFORMER,
} as const;

/**
 * The recipes of `sweeps` (families with no values are left out); `criticSeed` seeds the critics of
 * every GANPO run alike. Names say the knob and the critic, e.g. `DPO β=0.3`, `anchor λ=0.01`,
 * `MLP frozen λ=1`.
 */
export function frontierMethods(sweeps: FrontierSweeps, criticSeed: number): MethodSpec[] {
  const { label: dpoLabel, objective: base } = OBJECTIVES.dpo;
  const out: MethodSpec[] = sweeps.dpo.map((beta) => ({
    name: `${dpoLabel} β=${beta}`,
    family: 'dpo',
    lambda: 0,
    objective: { kind: 'dpo', beta },
    regularizer: false,
  }));
  const add = (
    family: FrontierFamily,
    name: string,
    regularizer: (weight: number) => TrainerRegularizerOptions,
  ) => {
    for (const lambda of sweeps[family])
      out.push({
        name: `${name} λ=${lambda}`,
        family,
        lambda,
        objective: base,
        regularizer: regularizer(lambda),
      });
  };
  add('anchor', 'anchor', (weight) => ({ kind: 'anchor', weight }));
  add('mmd', 'MMD', (weight) => ({ kind: 'mmd', weight }));
  add('official', 'official', (weight) => ({ ...OFFICIAL_GANPO, weight, seed: criticSeed }));
  for (const family of ['mlp', 'transformer'] as const) {
    const critic = CRITICS[family];
    const label = family === 'mlp' ? 'MLP' : 'transformer';
    add(family, label, (weight) => ({ ...PREVIOUS_DEFAULT, critic, weight, seed: criticSeed }));
    add(`${family}-frozen`, `${label} frozen`, (weight) => ({
      ...PREVIOUS_DEFAULT,
      critic,
      weight,
      seed: criticSeed,
      criticLearningRateRatio: FROZEN_CRITIC_RATIO,
    }));
  }
  for (const variant of FRONTIER_VARIANTS)
    for (const family of ['variant-mlp', 'variant-transformer'] as const) {
      const kind = family === 'variant-mlp' ? 'mlp' : 'transformer';
      add(family, `${kind === 'mlp' ? 'MLP' : 'transformer'} ${variant.label}`, (weight) => ({
        critic: CRITICS[kind],
        ...variant.options,
        weight,
        seed: criticSeed,
      }));
    }
  return out;
}
