import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertKnownKeys } from '../core/options';
import { assertObject } from '../core/validate';
import { readSafetensors } from '../io/safetensors';
import type { AdamWState } from '../optim/adamw';
import type { SerializedTensor } from '../regularizer/types';
import { type GanpoTrainer, trainerInternals } from '../trainer/ganpo-trainer';
import type { TrainerState } from '../trainer/trainer-state';
import {
  checkNames,
  criticSpecs,
  type HandoffMeta,
  META,
  OFFICIAL_MEANS,
  type PyTorchHandoffOptions,
  type PyTorchParameter,
  parameter,
  SIDES,
} from './handoff';

/** Parses a safetensors file of the bundle (undefined when absent). */
function readOptional(
  files: Record<string, Uint8Array>,
  name: string,
): Record<string, tf.Tensor> | undefined {
  const bytes = files[name];
  return bytes === undefined ? undefined : readSafetensors(bytes);
}

function need(where: string, files: Record<string, Uint8Array>, name: string): Record<string, tf.Tensor> {
  const t = readOptional(files, name);
  if (t === undefined) throw argumentError('INVALID_FORMAT', where, 'files', `a bundle with ${name}`, 'none');
  return t;
}

const serialize = (t: tf.Tensor): SerializedTensor => ({
  shape: [...t.shape],
  data: Array.from(t.dataSync()),
});

/**
 * Loads a PyTorch handoff (files in memory) into `trainer`; see {@link importFromPyTorch}
 * (`ganpo/node`), which reads them from a folder.
 */
export function loadPyTorchHandoffFiles(
  trainer: GanpoTrainer,
  files: Record<string, Uint8Array>,
  options: Pick<PyTorchHandoffOptions, 'policy'> = {},
  where = 'loadPyTorchHandoffFiles',
): void {
  if (trainerInternals(trainer) === undefined) {
    throw argumentError('INVALID_ARGUMENT', where, 'trainer', 'a GanpoTrainer', typeof trainer);
  }
  const metaBytes = files[META];
  let meta: HandoffMeta;
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes)) as HandoffMeta;
  } catch {
    throw argumentError('INVALID_FORMAT', where, META, 'the JSON of a ganpo handoff', 'unreadable');
  }
  if (meta?.format !== 'ganpo-handoff' || meta.version !== 1) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      META,
      "{ format: 'ganpo-handoff', version: 1 }",
      String(meta?.format),
    );
  }
  assertObject(where, 'options', options, '{ policy? }');
  assertKnownKeys(where, options, ['policy'], 'options.');
  const nVars = trainer.policy.trainableVariables.length;
  checkNames(where, 'options.policy', options.policy, nVars);
  const specs = criticSpecs(where, trainer);
  const current = trainer.stateDict();
  const next: TrainerState = structuredClone(current);
  next.step = meta.global_step;
  const parsed: Record<string, tf.Tensor>[] = [];
  const read = (name: string) => {
    const t = need(where, files, name);
    parsed.push(t);
    return t;
  };
  try {
    if (options.policy) {
      const params = options.policy.map(parameter);
      const weights = read('policy.safetensors');
      const moments = read('policy.optim.safetensors');
      const steps = meta.optimizer_steps.policy ?? {};
      next.policy = params.map((p) => serialize(fromTorch(weights, p.name, p.transpose, where)));
      next.optimizer = adamState(current.optimizer, 'policy', params, moments, steps, where);
    }
    if (specs && next.regularizer && current.regularizer) {
      const r = next.regularizer;
      for (const side of SIDES) {
        const dict = read(`disc_${side}.safetensors`);
        r.discriminators[side] = Object.fromEntries(Object.entries(dict).map(([k, t]) => [k, serialize(t)]));
      }
      const slots: AdamWState['slots'] = {};
      let iterations = 0;
      for (const side of SIDES) {
        const moments = read(`disc_${side}.optim.safetensors`);
        const steps = meta.optimizer_steps[`disc_${side}`] ?? {};
        specs[side].forEach((spec, i) => {
          const step = steps[spec.key] ?? 0;
          // Listed without moments (null): a position-keyed state names every variable.
          if (step === 0) {
            slots[`${side}/${i}`] = null;
            return;
          }
          slots[`${side}/${i}`] = toSlot(
            step,
            tf.tidy(() => spec.fromTorch(momentOf(moments, `exp_avg.${spec.key}`, where))),
            tf.tidy(() => spec.fromTorch(momentOf(moments, `exp_avg_sq.${spec.key}`, where))),
          );
          iterations = Math.max(iterations, step);
        });
      }
      r.optimizer = { ...(current.regularizer.optimizer as AdamWState), slots, iterations };
      const exported = meta.ganpo?.regularizer_steps;
      const advanced =
        meta.global_step - Number((meta.ganpo?.exported_step as number | undefined) ?? meta.global_step);
      r.steps = typeof exported === 'number' ? exported + advanced : meta.global_step;
      if (meta.running_means) {
        for (const [name, side, set] of OFFICIAL_MEANS) {
          const value = meta.running_means[name];
          const counts = meta.ganpo?.mean_counts as Record<string, number> | undefined;
          const mean = r.means.running[side][set];
          mean.value = value;
          mean.count = value === null ? 0 : Math.max(1, (counts?.[name] ?? 0) + advanced);
        }
      }
    }
    if (meta.ganpo?.sampler !== undefined) next.sampler = meta.ganpo.sampler as TrainerState['sampler'];
  } finally {
    for (const t of parsed) tf.dispose(Object.values(t));
  }
  // All or nothing: the trainer checks the whole state before it changes anything.
  trainer.loadStateDict(next);
}

function momentOf(moments: Record<string, tf.Tensor>, key: string, where: string): tf.Tensor {
  const t = moments[key];
  if (t === undefined)
    throw argumentError('STATE_DICT_MISMATCH', where, key, 'an optimizer moment', 'a missing key');
  return t;
}

function fromTorch(
  tensors: Record<string, tf.Tensor>,
  name: string,
  transpose: boolean | undefined,
  where: string,
) {
  const t = tensors[name];
  if (t === undefined)
    throw argumentError('STATE_DICT_MISMATCH', where, name, 'a policy weight', 'a missing key');
  return transpose ? tf.transpose(t) : tf.clone(t);
}

function adamState(
  current: AdamWState,
  prefix: string,
  params: readonly PyTorchParameter[],
  moments: Record<string, tf.Tensor>,
  steps: Record<string, number>,
  where: string,
): AdamWState {
  const slots: AdamWState['slots'] = {};
  let iterations = 0;
  params.forEach((p, i) => {
    const step = steps[p.name] ?? 0;
    if (step === 0) {
      slots[`${prefix}/${i}`] = null;
      return;
    }
    slots[`${prefix}/${i}`] = toSlot(
      step,
      fromTorch(moments, `exp_avg.${p.name}`, p.transpose, where),
      fromTorch(moments, `exp_avg_sq.${p.name}`, p.transpose, where),
    );
    iterations = Math.max(iterations, step);
  });
  return { ...current, slots, iterations };
}

/** An AdamW slot in plain JSON from moments laid out like the variable (disposes them). */
function toSlot(step: number, m: tf.Tensor, v: tf.Tensor): AdamWState['slots'][string] {
  const slot = { step, shape: [...m.shape], m: Array.from(m.dataSync()), v: Array.from(v.dataSync()) };
  tf.dispose([m, v]);
  return slot;
}
