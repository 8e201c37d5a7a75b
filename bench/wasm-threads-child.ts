// Child process of bench/suites/wasm-threads.ts: the wasm module (threaded or not) is chosen once per
// process. Usage: node --import tsx bench/wasm-threads-child.ts <single|threads> <runs> <warmup>
// Prints one JSON line: thread count, discriminator-step samples (ms), matMul GFLOP/s.
// With `serve` (bench/suites/discriminator.ts): the 2-thread step as a step server (StepServer's
// protocol in bench/util.ts: a ready line, then one line of ms per "step", exit on "quit").
import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { setValidationLevel } from '../src/core/config';
import { initWasmThreads } from '../src/node';
import { makeStep } from './suites/discriminator';
import { bestMatMulGflops } from './util';

const [mode = 'single', runsArg = '3', warmupArg = '1'] = process.argv.slice(2);
setValidationLevel('shapes');
const threads = mode === 'threads' || mode === 'serve' ? await initWasmThreads({ threads: 2 }) : 1;
await tf.setBackend('wasm');
await tf.ready();
// The suite's default step (fused attention, ganpo's kernels), as the discriminator suite's main row.
const { step, dispose } = makeStep('auto');
if (mode === 'serve') {
  step();
  process.stdout.write(`${JSON.stringify({ ready: true, threads })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'step') break;
    const t0 = performance.now();
    step();
    process.stdout.write(`${performance.now() - t0}\n`);
  }
  dispose();
  process.exit(0);
}
for (let i = 0; i < Number(warmupArg); i++) step();
const samples: number[] = [];
const cpu0 = process.cpuUsage();
for (let i = 0; i < Number(runsArg); i++) {
  const t0 = performance.now();
  step();
  samples.push(performance.now() - t0);
}
const cpu = process.cpuUsage(cpu0);
dispose();
// tfjs's matMul alone: XNNPACK's scaling with threads (ganpo's own GEMM is split by its kernel pool)
const mm = await bestMatMulGflops([[1024, 256, 1024]], 5, false);
const wall = samples.reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    threads,
    samples,
    cpuPerWall: (cpu.user + cpu.system) / 1000 / wall,
    matMulGflops: mm.gflops,
  }),
);
