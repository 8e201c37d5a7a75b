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
  step();
  step();
  const t0 = performance.now();
  step();
  const wall = performance.now() - t0;
  const info = await tf.profile(() => step());
  const byKernel = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += ms;
    e.n += 1;
    byKernel.set(k.name, e);
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  console.log(
    `\n${name}: step ${wall.toFixed(0)} ms wall, ${info.kernels.length} kernels, ${total.toFixed(0)} ms in kernels`,
  );
  for (const [k, e] of [...byKernel.entries()].sort((a, b) => b[1].n - a[1].n).slice(0, 25)) {
    console.log(
      `${k.padEnd(22)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.n).padStart(6)} calls  ${((100 * e.ms) / total).toFixed(1)}%`,
    );
  }
}
dispose();
