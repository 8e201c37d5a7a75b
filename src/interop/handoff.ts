import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertKnownKeys } from '../core/options';
import { assertObject } from '../core/validate';
import type { PreferenceExample } from '../data/trl-format';
import { BaseDiscriminator } from '../discriminators/base';
import type { StateSpec } from '../discriminators/layers';
import { writeSafetensors } from '../io/safetensors';
import type { AdamWState } from '../optim/adamw';
import type { SerializedTensor } from '../regularizer/types';
import { type GanpoTrainer, trainerInternals } from '../trainer/ganpo-trainer';
import type { InitialReference } from '../trainer/initial-reference';
import type { ReferenceEntry } from '../trainer/reference';
import type { TrainerState } from '../trainer/trainer-state';
import { type HandoffConfig, handoffConfig } from './handoff-config';

/** A policy (or reference) variable under its PyTorch parameter name. */
export interface PyTorchParameter {
  /** The name in `model.named_parameters()`, e.g. `'model.layers.0.mlp.up_proj.weight'`. */
  name: string;
  /**
   * The variable holds the transpose of the PyTorch tensor (a tfjs `[in, out]` kernel for an
   * `nn.Linear` weight `[out, in]`). Default false.
   */
  transpose?: boolean;
}

/** Options of {@link exportToPyTorch} and {@link importFromPyTorch}. */
export interface PyTorchHandoffOptions {
  /**
   * PyTorch names of `policy.trainableVariables`, in that order: the policy's weights and AdamW
   * moments go to `policy.safetensors` / `policy.optim.safetensors` under them. Omit it to leave
   * the policy out (continue from the model checkpoint you have on the PyTorch side; the optimizer
   * state then starts fresh there).
   */
  policy?: readonly (string | PyTorchParameter)[];
  /**
   * PyTorch names of the reference's weights (same order as the policy's), written to
   * `reference.safetensors` on export: the `'initial'` snapshot, a TR-DPO-synced reference, or a
   * reference model's `trainableVariables`. Export only.
   */
  reference?: readonly (string | PyTorchParameter)[];
  /**
   * The training data (indexed like the pairs the trainer trains on), written as TRL JSONL
   * (`train.jsonl`: explicit `prompt`, `chosen`, `rejected`). Export only.
   */
  data?: readonly PreferenceExample[];
  /**
   * The reference cache of `trainer.precomputeReference(pairs)` for the same examples: each line
   * then carries TRL's precomputed-reference columns `ref_chosen_logps` / `ref_rejected_logps`.
   * Export only.
   */
  referenceCache?: readonly ReferenceEntry[];
}

/** What `ganpo_handoff.json` holds. */
export interface HandoffMeta extends HandoffConfig {
  format: 'ganpo-handoff';
  version: 1;
  /** Optimizer steps taken (`trainer.step`, transformers' `global_step`). */
  global_step: number;
  /** The six EMA means under the official trainer's attribute names (`null` before the first step). */
  running_means: Record<(typeof OFFICIAL_MEANS)[number][0], number | null> | null;
  /** Per optimizer (`disc_chosen`, `disc_rejected`, `policy`): updates per PyTorch parameter. */
  optimizer_steps: Record<string, Record<string, number>>;
  /** The learning rates of the next step (policy, critics), for reading only. */
  learning_rates: { policy: number; critics: number | null };
  /** ganpo's own state that PyTorch does not keep (data order, dropout streams, mean counts). */
  ganpo: Record<string, unknown>;
}

/**
 * Official attribute name → (critic, scored set) of ganpo's means. D_w = the chosen critic, D_l the
 * rejected one; `pos` / `neg` are the reference chosen / rejected latents (GANPO_trl.py,
 * `compute_loss_disc`).
 */
export const OFFICIAL_MEANS = [
  ['running_mean_pos', 'chosen', 'reference'],
  ['running_mean_neg', 'chosen', 'opposite'],
  ['running_mean_policy', 'chosen', 'policy'],
  ['running_mean_pos_rej', 'rejected', 'opposite'],
  ['running_mean_neg_rej', 'rejected', 'reference'],
  ['running_mean_policy_rejected_rej', 'rejected', 'policy'],
] as const;

export const SIDES = ['chosen', 'rejected'] as const;
export const META = 'ganpo_handoff.json';
const utf8 = new TextEncoder();

export const parameter = (p: string | PyTorchParameter): PyTorchParameter =>
  typeof p === 'string' ? { name: p } : p;

export function checkNames(
  where: string,
  argument: string,
  names: readonly unknown[] | undefined,
  count: number,
): void {
  if (names === undefined) return;
  if (!Array.isArray(names) || names.length !== count) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      argument,
      `${count} PyTorch names (one per trainable variable)`,
      Array.isArray(names) ? `${names.length}` : typeof names,
    );
  }
  const seen = new Set<string>();
  names.forEach((n, i) => {
    const name = typeof n === 'string' ? n : (n as PyTorchParameter | null)?.name;
    if (typeof name !== 'string' || name === '' || seen.has(name)) {
      throw argumentError(
        'INVALID_OPTION',
        where,
        `${argument}[${i}]`,
        'a distinct, non-empty name',
        String(name),
      );
    }
    seen.add(name);
  });
}

/** The trainer's critics with their parameter specs (PyTorch names and layouts), or null. */
export function criticSpecs(
  where: string,
  trainer: GanpoTrainer,
): Record<'chosen' | 'rejected', StateSpec[]> | null {
  const reg = trainer.regularizer;
  if (reg === null) return null;
  const out = {} as Record<'chosen' | 'rejected', StateSpec[]>;
  for (const side of SIDES) {
    const d = reg.discriminators[side];
    if (!(d instanceof BaseDiscriminator)) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'trainer',
        "ganpo's own discriminators",
        `a ${d.constructor.name}`,
      );
    }
    out[side] = d.parameterSpecs();
  }
  return out;
}

/** Weights and AdamW moments of variables by position, under PyTorch names and layouts. */
function torchTensors(
  values: readonly SerializedTensor[],
  slots: AdamWState['slots'],
  prefix: string,
  params: readonly PyTorchParameter[],
): { weights: Record<string, tf.Tensor>; moments: Record<string, tf.Tensor>; steps: Record<string, number> } {
  const weights: Record<string, tf.Tensor> = {};
  const moments: Record<string, tf.Tensor> = {};
  const steps: Record<string, number> = {};
  const layout = (t: tf.Tensor, p: PyTorchParameter) => (p.transpose ? tf.transpose(t) : t);
  params.forEach((p, i) => {
    const v = values[i] as SerializedTensor;
    weights[p.name] = tf.tidy(() => layout(tf.tensor(v.data, v.shape, 'float32'), p));
    const slot = slots[`${prefix}/${i}`];
    steps[p.name] = slot?.step ?? 0;
    if (slot) {
      moments[`exp_avg.${p.name}`] = tf.tidy(() => layout(tf.tensor(slot.m, slot.shape), p));
      moments[`exp_avg_sq.${p.name}`] = tf.tidy(() => layout(tf.tensor(slot.v, slot.shape), p));
    }
  });
  return { weights, moments, steps };
}

function bytesOf(tensors: Record<string, tf.Tensor>): Uint8Array {
  try {
    return writeSafetensors(tensors, { format: 'pt' });
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** The reference's weights in the policy's variable order (the snapshot, TR-DPO's or a model's). */
function referenceWeights(where: string, trainer: GanpoTrainer, state: TrainerState): SerializedTensor[] {
  if (state.reference) return state.reference;
  const ref = trainer.reference as
    | (Partial<InitialReference> & { trainableVariables?: tf.Variable[] })
    | undefined;
  const tensors: readonly tf.Tensor[] | undefined =
    ref?.trainableVariables && ref.trainableVariables.length > 0 ? ref.trainableVariables : ref?.weights?.();
  if (!tensors || tensors.length !== trainer.policy.trainableVariables.length) {
    throw argumentError(
      'INVALID_OPTION',
      where,
      'reference',
      'a trainer whose reference weights can be read',
      'none',
    );
  }
  return tensors.map((t) => ({ shape: [...t.shape], data: Array.from(t.dataSync()) }));
}

/**
 * The PyTorch handoff of a trainer's whole state, as files in memory (name → bytes); see
 * {@link exportToPyTorch} (`ganpo/node`), which writes them to a folder.
 */
export function pyTorchHandoffFiles(
  trainer: GanpoTrainer,
  options: PyTorchHandoffOptions = {},
  where = 'pyTorchHandoffFiles',
): Record<string, Uint8Array> {
  const internal = trainerInternals(trainer);
  if (internal === undefined) {
    throw argumentError('INVALID_ARGUMENT', where, 'trainer', 'a GanpoTrainer', typeof trainer);
  }
  assertObject(where, 'options', options, '{ policy?, reference?, data?, referenceCache? }');
  assertKnownKeys(where, options, ['policy', 'reference', 'data', 'referenceCache'], 'options.');
  const nVars = trainer.policy.trainableVariables.length;
  checkNames(where, 'options.policy', options.policy, nVars);
  checkNames(where, 'options.reference', options.reference, nVars);
  if (options.referenceCache && (!options.data || options.referenceCache.length !== options.data.length)) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'options.referenceCache',
      `one entry per example of options.data (${options.data?.length ?? 'no data'})`,
      `${options.referenceCache.length}`,
    );
  }
  const specs = criticSpecs(where, trainer);
  const state = trainer.stateDict();
  const files: Record<string, Uint8Array> = {};
  const optimizerSteps: Record<string, Record<string, number>> = {};
  const reg = state.regularizer;
  if (specs && reg) {
    if (reg.optimizer === null) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'trainer',
        'critics optimized by AdamW',
        'another optimizer',
      );
    }
    for (const side of SIDES) {
      const dict = reg.discriminators[side];
      files[`disc_${side}.safetensors`] = bytesOf(
        Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, tf.tensor(v.data, v.shape)])),
      );
      // Moments are laid out like the variables: the state-dict transforms map them to PyTorch's.
      const moments: Record<string, tf.Tensor> = {};
      optimizerSteps[`disc_${side}`] = {};
      specs[side].forEach((spec, i) => {
        const slot = (reg.optimizer as AdamWState).slots[`${side}/${i}`];
        (optimizerSteps[`disc_${side}`] as Record<string, number>)[spec.key] = slot?.step ?? 0;
        if (!slot) return;
        moments[`exp_avg.${spec.key}`] = tf.tidy(() => spec.toTorch(tf.tensor(slot.m, slot.shape)));
        moments[`exp_avg_sq.${spec.key}`] = tf.tidy(() => spec.toTorch(tf.tensor(slot.v, slot.shape)));
      });
      files[`disc_${side}.optim.safetensors`] = bytesOf(moments);
    }
  }
  if (options.policy) {
    const t = torchTensors(state.policy, state.optimizer.slots, 'policy', options.policy.map(parameter));
    files['policy.safetensors'] = bytesOf(t.weights);
    files['policy.optim.safetensors'] = bytesOf(t.moments);
    optimizerSteps.policy = t.steps;
  }
  if (options.reference) {
    const t = torchTensors(
      referenceWeights(where, trainer, state),
      {},
      'reference',
      options.reference.map(parameter),
    );
    files['reference.safetensors'] = bytesOf(t.weights);
  }
  if (options.data) {
    const cache = options.referenceCache;
    const lines = options.data.map((e, i) =>
      JSON.stringify({
        prompt: e.prompt,
        chosen: e.chosen,
        rejected: e.rejected,
        ...(cache
          ? { ref_chosen_logps: cache[i]?.chosenLogp, ref_rejected_logps: cache[i]?.rejectedLogp }
          : {}),
      }),
    );
    files['train.jsonl'] = utf8.encode(`${lines.join('\n')}\n`);
  }
  const config = handoffConfig({
    config: internal.config,
    optimizer: trainer.optimizer,
    regularizer: trainer.regularizer,
    criticLearningRateRatio: internal.criticLearningRateRatio,
  });
  const policyLr = internal.config.schedule(state.step);
  const meta: HandoffMeta = {
    format: 'ganpo-handoff',
    version: 1,
    global_step: state.step,
    ...config,
    running_means: reg
      ? (Object.fromEntries(
          OFFICIAL_MEANS.map(([name, side, set]) => [name, reg.means.running[side][set].value]),
        ) as HandoffMeta['running_means'])
      : null,
    optimizer_steps: optimizerSteps,
    learning_rates: {
      policy: policyLr,
      critics: internal.criticLearningRateRatio === null ? null : policyLr * internal.criticLearningRateRatio,
    },
    ganpo: {
      exported_step: state.step,
      sampler: state.sampler,
      regularizer_steps: reg?.steps ?? null,
      dropout: reg?.dropout ?? null,
      mean_counts: reg
        ? Object.fromEntries(
            OFFICIAL_MEANS.map(([name, side, set]) => [name, reg.means.running[side][set].count]),
          )
        : null,
    },
  };
  files[META] = utf8.encode(`${JSON.stringify(meta, null, 2)}\n`);
  return files;
}
