/// <reference types="vite/client" />
// The browser example: SFT warm-up then DPO + GANPO on a tiny char-level LM, on the backend the user
// picks, with live curves and greedy samples. URL parameters (used by the Playwright test):
//   ?backend=wasm|webgpu|webgl|cpu&sft=N&steps=N&autostart=1&sampleEvery=N&pauseAt=N&validation=full|shapes
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
// Registers 'webgpu'; it initialises only where the browser exposes `navigator.gpu` with an adapter.
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import {
  BatchSampler,
  collatePreferencePairs,
  disposePreferenceBatch,
  GanpoTrainer,
  type PreferencePair,
  setValidationLevel,
  type TrainerMetrics,
  type ValidationLevel,
} from 'ganpo';
import { encodePairs, encodePrompts, judge, makeTaskSplits, TASK_ALPHABET } from '../task/index';
import { sftLoss, TinyLM } from '../tiny-lm/index';
import { CharTokenizer } from '../tokenizers/char-tokenizer';
import { LineChart } from './chart';

// Bundlers rename the .wasm files, so give tfjs each file's URL rather than a directory. Without
// cross-origin isolation (COOP/COEP headers) the browser has no SharedArrayBuffer and tfjs picks the
// single-threaded SIMD binary.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

/** What the page exposes for tests and curious users (`window.ganpoDemo` in the console). */
interface DemoState {
  state: 'idle' | 'starting' | 'sft' | 'training' | 'done' | 'stopped' | 'error';
  backend: string;
  sftStep: number;
  step: number;
  metrics: TrainerMetrics[];
  /** Wall time of every GANPO optimizer step, ms. */
  stepMs: number[];
  /** Points plotted per chart. */
  chartPoints: Record<string, number>;
  samples: { step: number; prompt: string; answer: string; correct: boolean }[];
  /** Set to true to hold training between two steps (the test screenshots mid-training). */
  pause: boolean;
  /** True while training is held by `pause`. */
  paused: boolean;
  /** Live tensors after the run cleaned up, minus before it started (0 = no leak). */
  tensorDelta?: number;
  error?: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const demo: DemoState = {
  state: 'idle',
  backend: '',
  sftStep: 0,
  step: 0,
  metrics: [],
  stepMs: [],
  chartPoints: {},
  samples: [],
  pause: false,
  paused: false,
};
(window as unknown as { ganpoDemo: DemoState }).ganpoDemo = demo;

const charts = {
  loss: new LineChart($('chart-loss'), 'loss (DPO + λ·adversarial)', [
    { label: 'loss', color: '#1f77b4' },
    { label: 'SFT loss', color: '#aaa' },
  ]),
  acc: new LineChart(
    $('chart-acc'),
    'reward accuracy',
    [{ label: 'rewards/accuracies', color: '#2ca02c' }],
    [0, 1],
  ),
  disc: new LineChart($('chart-disc'), 'discriminator losses', [
    { label: 'D chosen', color: '#d62728' },
    { label: 'D rejected', color: '#9467bd' },
    { label: 'adversarial (policy)', color: '#ff7f0e' },
  ]),
  margin: new LineChart($('chart-margin'), 'reward margin', [{ label: 'rewards/margins', color: '#8c564b' }]),
};
const syncChartPoints = () => {
  for (const [name, chart] of Object.entries(charts)) demo.chartPoints[name] = chart.pointCount;
};

const status = (text: string, isError = false) => {
  const el = $('status');
  el.textContent = text;
  el.className = isError ? 'error' : '';
};
const nextFrame = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
const holdWhilePaused = async () => {
  demo.paused = demo.pause;
  while (demo.pause && !stopRequested) await nextFrame();
  demo.paused = false;
};
let stopRequested = false;

async function run(): Promise<void> {
  const backend = ($('backend') as HTMLSelectElement).value;
  const sftSteps = Number(($('sft') as HTMLInputElement).value);
  const steps = Number(($('steps') as HTMLInputElement).value);
  const weight = Number(($('weight') as HTMLInputElement).value);
  const sampleEvery = Number(params.get('sampleEvery') ?? 10);
  const pauseAt = Number(params.get('pauseAt') ?? Number.NaN); // hold after this step (screenshots)
  // Value checks read tensors back synchronously; on webgpu each such read goes through a canvas
  // (tfjs has no other synchronous path), slow without a GPU: `validation=shapes` skips them.
  setValidationLevel((params.get('validation') ?? 'full') as ValidationLevel);
  stopRequested = false;
  Object.assign(demo, { state: 'starting', sftStep: 0, step: 0, metrics: [], stepMs: [], samples: [] });
  for (const chart of Object.values(charts)) chart.clear();
  $('samples').replaceChildren();
  syncChartPoints();

  status(`initialising backend ${backend}…`);
  if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' failed to initialise`);
  await tf.ready();
  demo.backend = tf.getBackend();
  const tensorsBefore = tf.memory().numTensors;

  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const splits = makeTaskSplits({ seed: 1, trainSize: 1000, testSize: 4, shiftedSize: 4 });
  const pairs = encodePairs(tok, splits.train);
  const collate = { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 32 };
  const policy = new TinyLM({
    vocabSize: tok.vocabSize,
    maxSeqLen: 32,
    dim: 32,
    numLayers: 2,
    numHeads: 4,
    seed: 1,
  });
  let trainer: GanpoTrainer | null = null;
  let reference: TinyLM | null = null;
  try {
    // Stage 1: supervised warm-up on prompt + chosen (a policy that answers at all).
    demo.state = 'sft';
    const sftOptimizer = tf.train.adam(2e-3, 0.9, 0.999, 1e-8);
    const sampler = new BatchSampler({ datasetSize: pairs.length, batchSize: 32, seed: 1 });
    for (let i = 0; i < sftSteps && !stopRequested; i++) {
      const batch = collatePreferencePairs(
        sampler.next().indices.map((j) => pairs[j] as PreferencePair),
        collate,
      );
      const loss = sftOptimizer.minimize(
        () => sftLoss(policy, batch.chosen),
        true,
        policy.trainableVariables,
      );
      disposePreferenceBatch(batch);
      const value = (await (loss as tf.Scalar).data())[0] as number;
      loss?.dispose();
      demo.sftStep = i + 1;
      charts.loss.add(i + 1 - sftSteps, [undefined, value]); // SFT at steps ≤ 0, GANPO after
      syncChartPoints();
      status(`[${demo.backend}] SFT warm-up ${i + 1}/${sftSteps}  loss ${value.toFixed(3)}`);
      await nextFrame();
    }
    sftOptimizer.dispose();

    // Stage 2: DPO + GANPO against a frozen copy of the warmed-up policy.
    reference = policy.clone();
    trainer = new GanpoTrainer({
      model: { policy, reference, latentDim: policy.config.dim },
      data: { collate, batchSize: 8 },
      training: { learningRate: 5e-4, totalSteps: steps, warmupRatio: 0.1, seed: 1 },
      regularizer: {
        weight,
        // The official critic, scaled to the tiny LM (official: hidden 512, 2 layers, 8 heads).
        critic: { kind: 'transformer', hiddenDim: 32, numLayers: 1, numHeads: 4, maxSeqLen: 32 },
        seed: 1,
      },
      objective: { kind: 'dpo', beta: 0.1 },
    });
    const samplePrompts = splits.test.slice(0, 4);
    const sample = (step: number) => {
      const answers = policy.generate(
        encodePrompts(
          tok,
          samplePrompts.map((p) => p.prompt),
        ),
        { maxNewTokens: 12, temperature: 0, eosTokenId: tok.eosId },
      );
      const body = $<HTMLTableSectionElement>('samples');
      samplePrompts.forEach((p, i) => {
        const answer = tok.decode(answers[i] as number[]);
        const { correct } = judge(p.prompt, answer);
        demo.samples.push({ step, prompt: p.prompt, answer, correct });
        const row = document.createElement('tr');
        for (const text of [String(step), p.prompt, answer || '∅', p.chosen]) {
          const td = document.createElement('td');
          td.textContent = text;
          row.append(td);
        }
        const mark = document.createElement('td');
        mark.textContent = correct ? '✓' : '✗';
        mark.className = correct ? 'ok' : 'bad';
        row.append(mark);
        body.prepend(row);
      });
      while (body.rows.length > 12) body.deleteRow(-1); // the last three rounds
    };
    sample(0);
    demo.state = 'training';
    for (let i = 0; i < steps && !stopRequested; i++) {
      const t0 = performance.now();
      const [m] = await trainer.train(pairs, { steps: 1 });
      const ms = performance.now() - t0;
      if (!m) break;
      demo.metrics.push(m);
      demo.stepMs.push(ms);
      demo.step = m.step;
      charts.loss.add(m.step, [m.loss, undefined]);
      charts.acc.add(m.step, [m['rewards/accuracies']]);
      charts.disc.add(m.step, [
        m['ganpo/discriminator_loss_chosen'],
        m['ganpo/discriminator_loss_rejected'],
        m['ganpo/regularizer_loss'],
      ]);
      charts.margin.add(m.step, [m['rewards/margins']]);
      syncChartPoints();
      const recent = demo.stepMs.slice(-10);
      const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
      status(
        `[${demo.backend}] GANPO step ${m.step}/${steps}  loss ${m.loss.toFixed(4)}  ` +
          `acc ${m['rewards/accuracies'].toFixed(2)}  D ${m['ganpo/discriminator_loss_chosen']?.toFixed(3)}/` +
          `${m['ganpo/discriminator_loss_rejected']?.toFixed(3)}  ${mean.toFixed(0)} ms/step` +
          (m.skipped ? '  (skipped: non-finite)' : ''),
      );
      if (m.step % sampleEvery === 0 || i === steps - 1) sample(m.step);
      await nextFrame();
      if (m.step === pauseAt) demo.pause = true;
      await holdWhilePaused();
    }
  } finally {
    trainer?.dispose();
    reference?.dispose();
    policy.dispose();
  }
  demo.tensorDelta = tf.memory().numTensors - tensorsBefore;
  demo.state = stopRequested ? 'stopped' : 'done';
  status(`${$('status').textContent}\n${demo.state}; tensors left after cleanup: ${demo.tensorDelta}`);
}

const startButton = $('start') as HTMLButtonElement;
const stopButton = $('stop') as HTMLButtonElement;
const start = () => {
  startButton.disabled = true;
  stopButton.disabled = false;
  run()
    .catch((e: unknown) => {
      demo.state = 'error';
      demo.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      status(demo.error, true);
      console.error(e);
    })
    .finally(() => {
      startButton.disabled = false;
      stopButton.disabled = true;
    });
};
startButton.addEventListener('click', start);
stopButton.addEventListener('click', () => {
  stopRequested = true;
});
for (const key of ['backend', 'sft', 'steps', 'weight']) {
  const value = params.get(key);
  if (value !== null) ($(key) as HTMLInputElement).value = value;
}
if (params.get('autostart') === '1') start();
