// Per-kernel profile of one discriminator training step (tf.profile), for finding hot spots:
//   node --import tsx bench/profile-discriminator.ts [wasm|cpu] [fast|naive] [auto|fused|per-head|batched]
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setValidationLevel } from '../src/core/config';
import type { AttentionImpl } from '../src/ops/attention';
import { kernelFlags } from '../src/ops/kernel-flags';
import { makeStep } from './suites/discriminator';
import { printKernels, profileStep } from './util';

const [backend = 'wasm', mode = 'fast', attention = 'auto'] = process.argv.slice(2);
setValidationLevel('shapes');
await tf.setBackend(backend);
await tf.ready();
const fast = mode === 'fast';
kernelFlags.fastLinearGradient = fast;
kernelFlags.fusedLayerNorm = fast;
kernelFlags.fusedGelu = fast;
kernelFlags.wasmGelu = fast;
kernelFlags.wasmSumRows = fast;
kernelFlags.wasmLayerNorm = fast;
kernelFlags.wasmAdamW = fast;
kernelFlags.wasmPowerIteration = fast;
kernelFlags.wasmSpectralScale = fast;
kernelFlags.offTapeConstants = fast;
kernelFlags.wasmDropoutMask = fast;
const { step, dispose } = makeStep(attention as AttentionImpl);
const p = await profileStep(step);
console.log(
  `${backend} ${mode} ${attention}: step ${p.wallMs.toFixed(0)} ms wall, ${p.kernels.length} kernels, ${p.totalMs.toFixed(0)} ms in kernels`,
);
printKernels(p, 'ms', 15);
// matMuls by shape: achieved GFLOP/s per shape shows which products are far from the backend's best.
const byShape = new Map<string, { ms: number; n: number; flops: number }>();
for (const k of p.kernels) {
  if (k.name !== 'BatchMatMul' && k.name !== '_FusedMatMul' && k.name !== 'GanpoMatMul2D') continue;
  const [a, b] = k.inputShapes as number[][];
  const [out] = k.outputShapes as number[][];
  if (!a || !b || !out || a.length !== 2 || b.length !== 2 || out.length !== 2) continue;
  // inner size: b's rows (ganpo's kernel may take A transposed, so a's shape is not [M, K])
  const key = `${k.name === 'GanpoMatMul2D' ? 'ganpo ' : ''}[${out[0]},${b[0]}]·[${b}]`;
  const e = byShape.get(key) ?? { ms: 0, n: 0, flops: 0 };
  e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  e.n += 1;
  e.flops += 2 * (out[0] as number) * (b[0] as number) * (out[1] as number);
  byShape.set(key, e);
}
console.log('\n2-D matMuls by shape');
for (const [key, e] of [...byShape.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, 12)) {
  console.log(
    `${key.padEnd(26)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.n).padStart(5)} calls  ${(e.flops / e.ms / 1e6).toFixed(1)} GFLOP/s`,
  );
}
dispose();
