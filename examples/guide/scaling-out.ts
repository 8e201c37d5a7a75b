// docs/pytorch-interop.md, "Scaling out": a ganpo run handed to PyTorch (TRL, the official GANPO
// trainer) and taken back.
import type { GanpoTrainer, PreferenceExample, PreferencePair } from 'ganpo';
import { exportToPyTorch, importFromPyTorch, type PyTorchParameter } from 'ganpo/node';

/**
 * `names`: the PyTorch parameter name of each of `trainer.policy.trainableVariables`, in order, with
 * `transpose: true` where the variable is a tfjs [in, out] kernel of an nn.Linear weight [out, in].
 */
export async function handOff(
  trainer: GanpoTrainer,
  data: { examples: PreferenceExample[]; pairs: PreferencePair[] },
  names: PyTorchParameter[],
  dir: string,
): Promise<string[]> {
  // The reference's summed log-probs per pair: TRL's ref_chosen_logps / ref_rejected_logps columns.
  const referenceCache = trainer.precomputeReference(data.pairs);
  return exportToPyTorch(trainer, dir, { policy: names, data: data.examples, referenceCache });
}

/** Continues in ganpo from what the PyTorch side wrote back (same folder layout). */
export async function takeBack(trainer: GanpoTrainer, names: PyTorchParameter[], dir: string): Promise<void> {
  await importFromPyTorch(trainer, dir, { policy: names }); // checked whole before anything changes
}
