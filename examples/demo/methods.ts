// The recipes the study compares: the base preference loss alone (λ = 0), GANPO as the official code
// runs it, and GANPO with the package's defaults, each at several adversarial weights λ.
import type { PreferenceObjective, TrainerRegularizerOptions } from 'ganpo';

/** The GANPO options of a recipe (the trainer builds the regularizer). */
type GanpoOptions = Extract<TrainerRegularizerOptions, { kind?: 'ganpo' }>;

/** `base` = the preference loss alone (λ = 0); `official` / `default` = the two GANPO configurations. */
export type DemoFamily = 'base' | 'official' | 'default';
export const DEMO_FAMILIES: readonly DemoFamily[] = ['base', 'official', 'default'];

/**
 * The frontiers of `--frontier` (see frontier-methods.ts): DPO's β sweep, the latent anchor, the
 * official GANPO, the default GANPO with each critic kind, learning or frozen at initialisation, and
 * the GANPO variants of {@link FRONTIER_VARIANTS}.
 */
export type FrontierFamily =
  | 'dpo'
  | 'anchor'
  | 'mmd'
  | 'official'
  | 'mlp'
  | 'transformer'
  | 'mlp-frozen'
  | 'transformer-frozen'
  | 'variant-mlp'
  | 'variant-transformer';
export const FRONTIER_FAMILIES: readonly FrontierFamily[] = [
  'dpo',
  'anchor',
  'mmd',
  'official',
  'mlp',
  'transformer',
  'mlp-frozen',
  'transformer-frozen',
  'variant-mlp',
  'variant-transformer',
];

export type Family = DemoFamily | FrontierFamily;
/** Every family, in table order. */
export const FAMILIES: readonly Family[] = [...new Set<Family>([...DEMO_FAMILIES, ...FRONTIER_FAMILIES])];

/** One preference-training recipe. */
export interface MethodSpec {
  /** Table label, e.g. `DPO`, `official λ=1`, `default λ=0.1`. */
  name: string;
  family: Family;
  /** The regularizer's weight λ (0 for the base loss and DPO's β sweep). */
  lambda: number;
  objective: PreferenceObjective;
  /** The trainer's regularizer (GANPO or the latent anchor), or `false` for the preference loss alone. */
  regularizer: TrainerRegularizerOptions | false;
}

/** The preference losses the demo can run; β values are the TRL / SimPO defaults. */
export const OBJECTIVES: Record<'dpo' | 'simpo', { label: string; objective: PreferenceObjective }> = {
  dpo: { label: 'DPO', objective: { kind: 'dpo', beta: 0.1 } }, // TRL default, official GANPO runs
  simpo: { label: 'SimPO', objective: { kind: 'simpo', beta: 2.0, gammaBetaRatio: 0.25 } }, // SimPO default config
};

/**
 * GANPO as the official code runs it, on the package's small-model critic: the "quad" discriminator
 * loss with the opposite-side negatives, the one-sided generator, EMA means, the discriminators at
 * half the policy's learning rate on its schedule. The critic is the masked mean-pool + SN-MLP
 * (64 → 256 → 256 → 1) rather than the official transformer: a transformer critic scaled down to this
 * 64-wide model cost ~6× a plain DPO step on wasm, the MLP ~1.6×.
 */
export const OFFICIAL_GANPO: GanpoOptions = { preset: 'official', critic: { kind: 'mlp' } };

/**
 * GANPO with the package's defaults (preset `'recommended'`: pair critics, the bounded paired
 * feature-matching generator, critics at 2× the policy's learning rate with AdamW β = (0, 0.9)); only
 * the critic kind is chosen, for the cost reason above.
 */
export const DEFAULT_GANPO: GanpoOptions = { critic: { kind: 'mlp' } };

/** λ of the default configuration in the main comparison (the package's default `weight`). */
export const DEFAULT_LAMBDA = 1;
/** λ of the official runs. */
export const OFFICIAL_LAMBDA = 1;
/** The λ sweep of `--full` (λ = 0 is the base loss). */
export const SWEEP_LAMBDAS: readonly number[] = [0.03, 0.1, 0.3, 1];

/** `official λ=0.3`-style label. */
export const methodName = (family: Family, lambda: number, base: string): string =>
  family === 'base' ? base : `${family} λ=${lambda}`;

/**
 * The recipes of one study: the base loss, then each GANPO family at each of its λ values.
 * `ganpoSeed` seeds the discriminators' initialisation (the same in every run).
 */
export function studyMethods(
  objective: keyof typeof OBJECTIVES,
  lambdas: { official: readonly number[]; default: readonly number[] },
  ganpoSeed: number,
): MethodSpec[] {
  const { label, objective: obj } = OBJECTIVES[objective];
  const out: MethodSpec[] = [{ name: label, family: 'base', lambda: 0, objective: obj, regularizer: false }];
  for (const family of ['official', 'default'] as const) {
    const settings = family === 'official' ? OFFICIAL_GANPO : DEFAULT_GANPO;
    for (const lambda of lambdas[family]) {
      out.push({
        name: methodName(family, lambda, label),
        family,
        lambda,
        objective: obj,
        regularizer: { ...settings, weight: lambda, seed: ganpoSeed },
      });
    }
  }
  return out;
}
