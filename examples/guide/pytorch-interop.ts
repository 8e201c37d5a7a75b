// docs/pytorch-interop.md: official GANPO discriminators in and out of ganpo (Node; in a browser use
// readSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer())) instead of the file helpers).
import type * as tf from '@tensorflow/tfjs-core';
import { GanpoRegularizer, TransformerDiscriminator, writeSafetensors } from 'ganpo';
import { fileSystemHandler, readSafetensorsFile, writeSafetensorsFile } from 'ganpo/node';

export async function importOfficial(dir: string, latentDim: number): Promise<GanpoRegularizer> {
  // Same architecture as the PyTorch run (official defaults: hidden 512, 2 layers, 8 heads, FFN 2048).
  const chosen = new TransformerDiscriminator({ latentDim });
  const rejected = new TransformerDiscriminator({ latentDim });
  for (const [d, file] of [
    [chosen, 'd_chosen'],
    [rejected, 'd_rejected'],
  ] as const) {
    const state = await readSafetensorsFile(`${dir}/${file}.safetensors`);
    d.loadStateDict(state); // strict: a missing, extra or mis-shaped key throws STATE_DICT_MISMATCH
    for (const t of Object.values(state)) t.dispose();
  }
  return new GanpoRegularizer({ discriminators: { chosen, rejected } }); // EMA means start empty, as a fresh official run
}

export async function exportForPyTorch(reg: GanpoRegularizer, dir: string): Promise<void> {
  for (const side of ['chosen', 'rejected'] as const) {
    const d = reg.discriminators[side] as TransformerDiscriminator;
    const state = d.stateDict(); // PyTorch names and layouts, spectral-norm u and v included
    await writeSafetensorsFile(`${dir}/d_${side}.safetensors`, state, { format: 'pt' });
    for (const t of Object.values(state)) t.dispose();
    await d.save(fileSystemHandler(`${dir}/tfjs_${side}`)); // or tfjs's own format (model.json + its weight file)
  }
}

/** In memory (e.g. to offer a download in a browser): the bytes of a .safetensors file. */
export function toSafetensorsBytes(d: TransformerDiscriminator): Uint8Array {
  const state: Record<string, tf.Tensor> = d.stateDict();
  const bytes = writeSafetensors(state, { format: 'pt' });
  for (const t of Object.values(state)) t.dispose();
  return bytes;
}
