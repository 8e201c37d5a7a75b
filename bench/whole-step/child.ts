// The ganpo side of the whole-step benchmark: one GanpoTrainer on wasm, as a step server (the protocol
// of StepServer in bench/util.ts). Usage: node --import tsx bench/whole-step/child.ts '<WholeStepConfig json>'
// Prints {ready, parameters, setupMs, firstStepMs} after the first step; answers "step" with the step's
// wall time (ms), "stats" with {peakRssMB, wasmHeapMB, tensorPeakMB}; exits on "quit".
import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { setLogger, setValidationLevel } from '../../src/index';
import { initWasmThreads } from '../../src/node';
import { memoryOf, type WasmBackendLike } from '../../src/ops/wasm/backend';
import type { WholeStepConfig } from './config';
import { wholeStepPairs, wholeStepPolicy, wholeStepTrainer } from './setup';

const c = JSON.parse(process.argv[2] ?? '{}') as WholeStepConfig;
setValidationLevel('shapes');
setLogger(null); // stdout carries the step protocol
// Two threads: tfjs's threaded build (XNNPACK's pool) and ganpo's kernel pool for its products.
if ((c.threads ?? 1) > 1) await initWasmThreads({ threads: c.threads });
await tf.setBackend('wasm');
await tf.ready();

const t0 = performance.now();
const policy = wholeStepPolicy(c);
const trainer = wholeStepTrainer(c, policy);
const batch = wholeStepPairs(c);
const t1 = performance.now();
trainer.trainStep(batch);
const t2 = performance.now();
const out = (line: unknown): void => {
  process.stdout.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
};
out({
  ready: true,
  parameters: policy.parameterCount,
  setupMs: t1 - t0,
  firstStepMs: t2 - t1,
  tfjs: tf.version_core,
});

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = line.trim();
  if (cmd === 'step') {
    const s = performance.now();
    trainer.trainStep(batch);
    out(String(performance.now() - s));
  } else if (cmd === 'stats') {
    const peak = (await tf.profile(() => void trainer.trainStep(batch))).peakBytes;
    const memory = memoryOf(tf.backend() as unknown as WasmBackendLike);
    out({
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      wasmHeapMB: memory ? memory.buffer.byteLength / 2 ** 20 : null,
      tensorPeakMB: peak / 2 ** 20,
    });
  } else break;
}
trainer.dispose();
policy.dispose();
process.exit(0);
