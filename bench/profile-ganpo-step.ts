// Per-kernel profile of one GanpoTrainer step on the demo model (tf.profile), by variant:
//   node --import tsx bench/profile-ganpo-step.ts [--off=flag,flag] [dpo|mlp|transformer|transformerBatchedScoring|transformerOfficial ...]
// Prints kernels per step, time in kernels, and the most frequent kernels. --off turns kernelFlags
// levers off (e.g. --off=wasmAdamW,wasmPowerIteration) to count what each one saves.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setValidationLevel } from '../src/core/config';
import { kernelFlags } from '../src/ops/kernel-flags';
import { makeGanpoStepSetup } from './suites/ganpo-step';
import { printKernels, profileStep } from './util';

setValidationLevel('shapes');
await tf.setBackend('wasm');
await tf.ready();
const args = process.argv.slice(2);
for (const flag of args
  .find((a) => a.startsWith('--off='))
  ?.slice(6)
  .split(',') ?? []) {
  if (!(flag in kernelFlags)) throw new Error(`unknown kernel flag ${flag}`);
  (kernelFlags as Record<string, boolean>)[flag] = false;
}
const names = args.filter((a) => !a.startsWith('--'));
const { pairs, variants, dispose } = makeGanpoStepSetup();
for (const name of names.length ? names : Object.keys(variants)) {
  const v = variants[name as keyof typeof variants];
  if (!v) throw new Error(`unknown variant ${name}`);
  const step = (): void => {
    v.trainer.trainStep(pairs);
  };
  const p = await profileStep(step);
  console.log(
    `\n${name}: step ${p.wallMs.toFixed(0)} ms wall, ${p.kernels.length} kernels, ${p.totalMs.toFixed(0)} ms in kernels`,
  );
  printKernels(p, 'n', 25);
}
dispose();
