// The ganpo side of the whole-step benchmark: one GanpoTrainer on wasm, as a step server (the protocol
// of StepServer in bench/util.ts). Usage: node --import tsx bench/whole-step/child.ts '<WholeStepConfig json>'
// Prints {ready, parameters, setupMs, firstStepMs} after the first step; answers "step" with the step's
// wall time (ms), "stats" with {peakRssMB, wasmHeapMB, tensorPeakMB}; exits on "quit".
import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { TinyLM } from '../../examples/tiny-lm';
import { setLogger, setValidationLevel } from '../../src/index';
import { initWasmThreads } from '../../src/node';
import { memoryOf, type WasmBackendLike } from '../../src/ops/wasm/backend';
import { GanpoTrainer } from '../../src/trainer/ganpo-trainer';
import type { WholeStepConfig } from './config';

const c = JSON.parse(process.argv[2] ?? '{}') as WholeStepConfig;
setValidationLevel('shapes');
setLogger(null); // stdout carries the step protocol
// Two threads: tfjs's threaded build (XNNPACK's pool) and ganpo's kernel pool for its products.
if ((c.threads ?? 1) > 1) await initWasmThreads({ threads: c.threads });
await tf.setBackend('wasm');
await tf.ready();

/** Seeded synthetic pairs: prompt + completion of exactly T tokens, ids in [1, vocab). */
function pairs() {
  let s = 1;
  const next = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return 1 + Math.floor((s / 2 ** 32) * (c.vocab - 1));
  };
  const seq = (n: number): number[] => Array.from({ length: n }, next);
  return Array.from({ length: c.B }, () => ({
    prompt: seq(c.prompt),
    chosen: seq(c.T - c.prompt),
    rejected: seq(c.T - c.prompt),
  }));
}

function makeTrainer(policy: TinyLM): GanpoTrainer {
  const critic =
    c.variant === 'mlp'
      ? { kind: 'mlp' as const, hiddenDims: c.mlpCritic.hiddenDims }
      : {
          kind: 'transformer' as const,
          hiddenDim: c.transformerCritic.hidden,
          numLayers: c.transformerCritic.layers,
          numHeads: c.transformerCritic.heads,
          ffnDim: c.transformerCritic.ffn,
          maxSeqLen: c.transformerCritic.maxSeqLen,
          dropout: c.transformerCritic.dropout,
        };
  return new GanpoTrainer({
    model: { policy, reference: 'copy', latentDim: c.dim },
    data: {
      collate: { padTokenId: 0, eosTokenId: null, maxLength: c.T, vocabSize: c.vocab },
      batchSize: c.B,
    },
    training: { learningRate: 1e-4, totalSteps: 1000 },
    // The official GANPO step (the PyTorch side runs GANPO_trl.py's algorithm).
    regularizer: c.variant === 'dpo' ? false : { critic, preset: 'official', seed: 1 },
  });
}

const t0 = performance.now();
const policy = new TinyLM({
  vocabSize: c.vocab,
  maxSeqLen: c.maxSeqLen,
  dim: c.dim,
  numLayers: c.layers,
  numHeads: c.heads,
  ffnDim: c.ffn,
  seed: 0,
});
const trainer = makeTrainer(policy);
const batch = pairs();
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
