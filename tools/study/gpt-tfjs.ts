// GANPO on a third-party tfjs GPT (gpt-tfjs 0.0.5 by A. Zemlyansky, npm `gpt-tfjs`), trained through
// ganpo's public API as a user would: `causalLMFromLayersModel(gpt, { hiddenLayer: 'transformer/ln_f' })`
// and `GanpoTrainer`. Not part of the package or of CI: gpt-tfjs is installed outside the repository,
//
//   mkdir -p /tmp/gptstudy && cd /tmp/gptstudy && npm pack gpt-tfjs@0.0.5 && tar xzf gpt-tfjs-0.0.5.tgz
//   mkdir -p node_modules && cp -r package node_modules/gpt-tfjs
//
// and its `require('@tensorflow/tfjs')` must resolve to the same tfjs-core + tfjs-layers instance as
// ganpo (a second tfjs-layers copy makes a LayersModel that `instanceof` does not recognise), so
// /tmp/gptstudy/node_modules/@tensorflow/tfjs is a one-file package (package.json `main: index.js`):
//
//   const core = require('<repo>/node_modules/@tensorflow/tfjs-core');
//   const layers = require('<repo>/node_modules/@tensorflow/tfjs-layers');
//   // the chained tensor methods the umbrella package registers (gpt-tfjs calls x.expandDims(), x.tile())
//   for (const n of ['expandDims', 'tile', 'slice', 'reshape', 'div', 'softmax', 'argMax', 'concat'])
//     if (!core.Tensor.prototype[n]) core.Tensor.prototype[n] = function (...a) { return core[n](this, ...a); };
//   module.exports = { ...core, ...layers };
//
// With that, gpt-tfjs 0.0.5 runs unchanged on tfjs 4.22 in Node (wasm backend).
//
//   node --import tsx tools/study/gpt-tfjs.ts [--gpt /tmp/gptstudy] [--seeds 0,1,2] [--steps 100]
//     [--lr 1e-3] [--arms 'dpo;default, mlp;...'] (substrings of the arm names, ';'-separated)
//
// Per seed: a GPT (2 layers, 4 heads, H 64, vocabulary 32) is first trained 150 steps as a plain LM
// on a random Markov-chain language (the reference must be a model, not an untrained one: gpt-tfjs
// initialises its embeddings to zeros); that state is the reference and the start of every arm.
// Pairs: a prompt of 4 tokens, two completions of 8 tokens sampled from the same chain; the one with
// more tokens from the upper half of the vocabulary is chosen (a learnable preference whose chosen
// and rejected latents stay alike). Reported per arm, paired by seed: the preference loss and the
// critics' loss (mean of the last 10 steps), drift = Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² of the
// `ln_f` output on 64 held-out sequences, held-out preference accuracy.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  causalLMFromLayersModel,
  GanpoTrainer,
  type PreferencePair,
  type TrainerRegularizerOptions,
} from '../../src/index';
import { mulberry32 } from '../../src/trainer/random';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const gptDir = arg('gpt', '/tmp/gptstudy');
const seeds = arg('seeds', '0,1,2').split(',').map(Number);
const steps = Number(arg('steps', '100'));
const lr = Number(arg('lr', '1e-3'));
const backend = arg('backend', 'wasm');

const VOCAB = 32;
const PAD = 0;
const EOS = 1;
const PROMPT = 4;
const COMPLETION = 8;
const BLOCK = 16;
const H = 64;

/** The arms: `false` = the preference loss alone. */
const ARMS: Record<string, Extract<TrainerRegularizerOptions, { kind?: 'ganpo' }> | false> = {
  dpo: false,
  'default, mlp critic': { critic: { kind: 'mlp' } },
  // The MLP critic peaking at new GanpoRegularizer()'s own learning rate instead of 2 × the policy's.
  'default, mlp critic, critic peak 5e-3': { critic: { kind: 'mlp' }, criticLearningRateRatio: 5e-3 / lr },
  'default, transformer critic (width 128, the size notice)': {
    critic: { hiddenDim: 128, numLayers: 1, numHeads: 4, maxSeqLen: BLOCK, dropout: 0 },
  },
  'default λ=0.3, mlp critic': { critic: { kind: 'mlp' }, weight: 0.3 },
  'default λ=0.1, mlp critic': { critic: { kind: 'mlp' }, weight: 0.1 },
  'default λ=0.1, transformer critic (width 128)': {
    weight: 0.1,
    critic: { hiddenDim: 128, numLayers: 1, numHeads: 4, maxSeqLen: BLOCK, dropout: 0 },
  },
  'official, mlp critic': { critic: { kind: 'mlp' }, preset: 'official' },
  'official, transformer critic (width 128)': {
    preset: 'official',
    critic: { hiddenDim: 128, numLayers: 1, numHeads: 4, maxSeqLen: BLOCK, dropout: 0 },
  },
};
const only = arg('arms', '');
const arms = Object.entries(ARMS).filter(([name]) => !only || only.split(';').some((o) => name.includes(o)));

type Gpt = { GPT: (config: Record<string, unknown>) => tfl.LayersModel };
const gpt = createRequire(`${gptDir}/`)('gpt-tfjs').model as Gpt;

/** A random Markov chain over tokens 2..V-1 (each row: a peaked distribution). */
function markovChain(rand: () => number): number[][] {
  return Array.from({ length: VOCAB }, () => {
    const w = Array.from({ length: VOCAB }, (_, j) => (j < 2 ? 0 : rand() ** 4));
    const s = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / s);
  });
}

function sample(rand: () => number, chain: number[][], start: number, n: number): number[] {
  const out: number[] = [];
  let cur = start;
  for (let i = 0; i < n; i++) {
    const row = chain[cur] as number[];
    let u = rand();
    let next = row.length - 1;
    for (let j = 0; j < row.length; j++) {
      u -= row[j] as number;
      if (u <= 0) {
        next = j;
        break;
      }
    }
    out.push(next);
    cur = next;
  }
  return out;
}

const upper = (xs: number[]) => xs.filter((x) => x >= VOCAB / 2 + 1).length;

function pairs(rand: () => number, chain: number[][], n: number): PreferencePair[] {
  const out: PreferencePair[] = [];
  while (out.length < n) {
    const prompt = sample(rand, chain, 2 + Math.floor(rand() * (VOCAB - 2)), PROMPT);
    const last = prompt[PROMPT - 1] as number;
    const a = sample(rand, chain, last, COMPLETION);
    const b = sample(rand, chain, last, COMPLETION);
    if (upper(a) === upper(b)) continue;
    const [chosen, rejected] = upper(a) > upper(b) ? [a, b] : [b, a];
    out.push({ prompt, chosen: [...chosen, EOS], rejected: [...rejected, EOS] });
  }
  return out;
}

/** The GPT, trained as a plain LM for `sftSteps` (next-token cross-entropy, Adam 3e-3). */
function pretrainedGpt(seed: number, chain: number[][]): tfl.LayersModel {
  const model = gpt.GPT({
    nLayer: 2,
    nHead: 4,
    nEmbd: H,
    vocabSize: VOCAB,
    blockSize: BLOCK,
    dropout: 0,
    residDrop: 0,
    embdDrop: 0,
    bias: true,
  });
  const rand = mulberry32(seed * 31 + 5);
  const opt = tf.train.adam(3e-3);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (let s = 0; s < 150; s++) {
    const rows = Array.from({ length: 16 }, () =>
      sample(rand, chain, 2 + Math.floor(rand() * 30), BLOCK + 1),
    );
    const x = tf.tensor2d(
      rows.map((r) => r.slice(0, BLOCK)),
      undefined,
      'int32',
    );
    const y = tf.tensor2d(
      rows.map((r) => r.slice(1)),
      undefined,
      'int32',
    );
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const logits = model.apply(x, { training: true }) as tf.Tensor3D;
          return tf.losses.softmaxCrossEntropy(tf.oneHot(y, VOCAB), logits) as tf.Scalar;
        }),
      vars,
    );
    opt.applyGradients(grads as tf.NamedTensorMap as Parameters<typeof opt.applyGradients>[0]);
    if (s === 149) console.log(`  seed ${seed}: LM pretraining loss ${value.dataSync()[0]?.toFixed(3)}`);
    tf.dispose([x, y, value, grads]);
  }
  opt.dispose();
  return model;
}

function hiddenOf(model: tfl.LayersModel, ids: tf.Tensor2D): tf.Tensor3D {
  const lm = causalLMFromLayersModel(model, { hiddenLayer: 'transformer/ln_f' });
  const out = tf.tidy(() => {
    const o = lm.forward(ids, { training: false });
    o.logits.dispose();
    return o.hidden;
  });
  lm.dispose();
  return out;
}

/** Summed completion log-probabilities of padded rows (every row BLOCK long). */
function sequenceLogps(model: tfl.LayersModel, rows: number[][]): number[] {
  return tf.tidy(() => {
    const ids = tf.tensor2d(rows, undefined, 'int32');
    const logits = model.apply(ids, { training: false }) as tf.Tensor3D;
    const logp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [-1, BLOCK - 1, -1]));
    const next = tf.slice(ids, [0, 1], [-1, -1]);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(next, VOCAB)), -1);
    const mask = tf.tensor2d(
      rows.map(() => Array.from({ length: BLOCK - 1 }, (_, t) => (t >= PROMPT - 1 ? 1 : 0))),
    );
    return Array.from(tf.sum(tf.mul(picked, mask), -1).dataSync());
  });
}

await tf.setBackend(backend);
await tf.ready();
console.log(
  `gpt-tfjs GPT 2 layers H ${H}, seeds ${seeds.join(',')}, ${steps} steps, policy lr ${lr}, ${backend}`,
);
const results: Record<
  string,
  { pref: number[]; critic: number[]; drift: number[]; acc: number[]; s: number[] }
> = {};
for (const seed of seeds) {
  const rand = mulberry32(seed * 7919 + 3);
  const chain = markovChain(rand);
  const train = pairs(rand, chain, 256);
  const test = pairs(rand, chain, 64);
  const model = pretrainedGpt(seed, chain);
  const initial = model.getWeights().map((w) => tf.keep(w.clone()));
  const heldOutRows = test.map((p) => [...p.prompt, ...p.chosen].slice(0, BLOCK));
  const heldOut = tf.tensor2d(heldOutRows, undefined, 'int32');
  const refHidden = hiddenOf(model, heldOut);
  const pad = (r: number[]) => [...r, ...Array(BLOCK - r.length).fill(PAD)].slice(0, BLOCK);
  const chosenRows = test.map((p) => pad([...p.prompt, ...p.chosen]));
  const rejectedRows = test.map((p) => pad([...p.prompt, ...p.rejected]));
  const refRejected = sequenceLogps(model, rejectedRows);
  const refMargin = sequenceLogps(model, chosenRows).map((c, i) => c - (refRejected[i] as number));
  for (const [name, ganpo] of arms) {
    model.setWeights(initial);
    const t0 = Date.now();
    const policy = causalLMFromLayersModel(model, { hiddenLayer: 'transformer/ln_f' });
    const tail = { pref: [] as number[], critic: [] as number[], adv: [] as number[] };
    const trainer = new GanpoTrainer({
      model: { policy, reference: 'initial', latentDim: H },
      data: { collate: { padTokenId: PAD, eosTokenId: EOS, maxLength: BLOCK }, batchSize: 8 },
      training: { learningRate: lr, totalSteps: steps, seed },
      objective: { kind: 'dpo', beta: 0.1 },
      regularizer: ganpo === false ? false : { seed: seed + 100, ...ganpo },
      logging: {
        onStep: (m) => {
          if (m.step > steps - 10) {
            // `loss` is the total, L_pref + λ·L_adv.
            const adv = m['ganpo/regularizer_loss'];
            tail.pref.push(
              adv === undefined || ganpo === false ? m.loss : m.loss - (ganpo.weight ?? 1) * adv,
            );
            if (adv !== undefined) tail.adv.push(adv);
            const c = m['ganpo/discriminator_loss_chosen'];
            const r = m['ganpo/discriminator_loss_rejected'];
            if (c !== undefined && r !== undefined) tail.critic.push((c + r) / 2);
          }
        },
      },
    });
    await trainer.train(train);
    trainer.dispose();
    policy.dispose();
    const h = hiddenOf(model, heldOut);
    const drift = tf.tidy(
      () =>
        tf.div(tf.sum(tf.square(tf.sub(h, refHidden))), tf.sum(tf.square(refHidden))).dataSync()[0] as number,
    );
    h.dispose();
    const pc = sequenceLogps(model, chosenRows);
    const pr = sequenceLogps(model, rejectedRows);
    const acc = pc.filter((c, i) => c - (pr[i] as number) > (refMargin[i] as number)).length / pc.length;
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
    const r = results[name] ?? { pref: [], critic: [], drift: [], acc: [], s: [] };
    results[name] = r;
    r.pref.push(mean(tail.pref));
    r.critic.push(mean(tail.critic));
    r.drift.push(drift);
    r.acc.push(acc);
    r.s.push((Date.now() - t0) / 1000);
    console.log(
      `  seed ${seed} | ${name} | pref loss ${mean(tail.pref).toFixed(3)} | adv loss ${mean(tail.adv).toFixed(3)} | critic loss ${mean(tail.critic).toFixed(4)} | drift ${drift.toFixed(4)} | held-out acc ${acc.toFixed(2)} | ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
  tf.dispose([...initial, heldOut, refHidden]);
  model.dispose();
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};
const fmt = (xs: number[], d = 3) => `${mean(xs).toFixed(d)} ± ${std(xs).toFixed(d)}`;
const base = results.dpo;
console.log('\narm | pref loss | log 2 − critic loss | drift | drift / DPO alone (paired) | held-out acc');
for (const [name, r] of Object.entries(results)) {
  const ratio = base ? r.drift.map((d, i) => d / (base.drift[i] as number)) : [];
  console.log(
    `${name} | ${fmt(r.pref)} | ${fmt(
      r.critic.map((c) => Math.LN2 - c),
      4,
    )} | ${fmt(r.drift, 4)} | ${ratio.length ? fmt(ratio, 2) : '-'} | ${fmt(r.acc, 2)}`,
  );
}
