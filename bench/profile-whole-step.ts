// Per-kernel profile of the whole-step benchmark's step (bench/suites/whole-step.ts) on wasm, 4.9 M-
// parameter GPT, by variant and thread count (tf.profile over two steps after two warm-up steps):
//   node --import tsx bench/profile-whole-step.ts [dpo|mlp|transformer] [threads]
// Prints the step time under the profiler and each kernel's time per step. Nested kernels (a custom
// gradient's own kernels) are counted in their scope's time too, so the column sums past the step.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { setLogger, setValidationLevel } from '../src/index';
import { initWasmThreads } from '../src/node';
import { SIZES, type Variant } from './whole-step/config';
import { wholeStepPairs, wholeStepPolicy, wholeStepTrainer } from './whole-step/setup';

const variant = (process.argv[2] ?? 'dpo') as Variant;
const threads = Number(process.argv[3] ?? 1);
const c = { ...SIZES['5M'], variant, threads };
setValidationLevel('shapes');
setLogger(null);
if (threads > 1) await initWasmThreads({ threads });
await tf.setBackend('wasm');
await tf.ready();

const policy = wholeStepPolicy(c);
const trainer = wholeStepTrainer(c, policy);
const batch = wholeStepPairs(c);
for (let i = 0; i < 2; i++) trainer.trainStep(batch);
const byKernel = new Map<string, { ms: number; calls: number }>();
const steps = 2;
let wall = 0;
for (let r = 0; r < steps; r++) {
  const t0 = performance.now();
  const profile = await tf.profile(() => void trainer.trainStep(batch));
  wall += performance.now() - t0;
  for (const k of profile.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.calls += 1;
    byKernel.set(k.name, e);
  }
}
console.log(`${variant}, ${threads} thread(s): step ${(wall / steps).toFixed(0)} ms under the profiler`);
console.log('kernel'.padEnd(28), 'ms/step'.padStart(9), 'calls/step'.padStart(11));
for (const [name, e] of [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
  console.log(name.padEnd(28), (e.ms / steps).toFixed(1).padStart(9), String(e.calls / steps).padStart(11));
}
trainer.dispose();
policy.dispose();
process.exit(0);
