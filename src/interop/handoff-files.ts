import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { argumentError } from '../core/errors';
import type { GanpoTrainer } from '../trainer/ganpo-trainer';
import { type PyTorchHandoffOptions, pyTorchHandoffFiles } from './handoff';
import { loadPyTorchHandoffFiles } from './handoff-import';

/** Every file a handoff folder may hold. */
const FILES = [
  'ganpo_handoff.json',
  'disc_chosen.safetensors',
  'disc_rejected.safetensors',
  'disc_chosen.optim.safetensors',
  'disc_rejected.optim.safetensors',
  'policy.safetensors',
  'policy.optim.safetensors',
  'reference.safetensors',
  'train.jsonl',
];

/**
 * Writes a trainer's whole state into `dir` for PyTorch, where TRL and the official GANPO trainer
 * continue the run (docs/pytorch-interop.md, "Scaling out"):
 *
 * - `ganpo_handoff.json`: the config as TRL `DPOConfig` fields and the official trainer's arguments,
 *   with every ganpo setting that has no counterpart; the step; the six EMA means under the official
 *   attribute names (`running_mean_pos`, …); optimizer step counts;
 * - `disc_chosen.safetensors`, `disc_rejected.safetensors`: the critics' state dicts (official
 *   names, spectral-norm vectors included) and `*.optim.safetensors` their AdamW moments
 *   (`exp_avg.<param>`, `exp_avg_sq.<param>`, PyTorch layouts);
 * - with `options.policy` (PyTorch names of the policy's variables): `policy.safetensors` and
 *   `policy.optim.safetensors`; with `options.reference`: `reference.safetensors`;
 * - with `options.data`: `train.jsonl` in TRL's format, with TRL's precomputed-reference columns
 *   `ref_chosen_logps` / `ref_rejected_logps` when `options.referenceCache` is given.
 *
 * `tools/reference/ganpo_handoff.py` in the repository loads such a folder into the official step
 * (and writes one back); the parity test continues an exported run there and compares.
 *
 * @returns the names of the files written.
 * @throws GanpoError `SHAPE_MISMATCH` when a name list does not match the variables, or the cache
 *   the data; `INVALID_ARGUMENT` for critics that are not ganpo's own or not optimized by AdamW.
 */
export async function exportToPyTorch(
  trainer: GanpoTrainer,
  dir: string,
  options: PyTorchHandoffOptions = {},
): Promise<string[]> {
  if (typeof dir !== 'string' || dir === '') {
    throw argumentError('INVALID_ARGUMENT', 'exportToPyTorch', 'dir', 'a folder path', String(dir));
  }
  const files = pyTorchHandoffFiles(trainer, options, 'exportToPyTorch');
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  return Object.keys(files);
}

/**
 * Loads a handoff folder written by {@link exportToPyTorch} or by the PyTorch side (same layout)
 * into `trainer`, built with the options of the run: the step, the critics and their AdamW state,
 * the six means and, with `options.policy`, the policy's weights and AdamW state. All or nothing:
 * the trainer checks the whole state (`loadStateDict`) before anything changes. The reference stays
 * the trainer's own; the data order continues from the sampler position the folder carries.
 *
 * @throws GanpoError `INVALID_FORMAT` for a folder without a valid `ganpo_handoff.json`,
 *   `STATE_DICT_MISMATCH` for missing or mis-shaped tensors.
 */
export async function importFromPyTorch(
  trainer: GanpoTrainer,
  dir: string,
  options: Pick<PyTorchHandoffOptions, 'policy'> = {},
): Promise<void> {
  if (typeof dir !== 'string' || dir === '') {
    throw argumentError('INVALID_ARGUMENT', 'importFromPyTorch', 'dir', 'a folder path', String(dir));
  }
  const files: Record<string, Uint8Array> = {};
  for (const name of FILES) {
    try {
      files[name] = new Uint8Array(await readFile(join(dir, name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  loadPyTorchHandoffFiles(trainer, files, options, 'importFromPyTorch');
}
