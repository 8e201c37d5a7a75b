// Latent-drift study: `node --import tsx tools/study/drift.ts [--seeds 0,1,2] [--only name,...]
// [--objectives dpo,simpo] [--critics mlp,transformer]`. Prints, per candidate, critic and objective,
// drift(pref + GANPO) / drift(pref alone) paired by seed (mean ± sample std over seeds), and the
// critics' mean loss over the last 10 steps.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { type DriftRunConfig, runDrift } from './drift-experiment';

type Candidate = Omit<DriftRunConfig, 'seed' | 'objective'>;
const GAN_ADAM = { criticLearningRate: 2e-3, criticBeta1: 0, criticBeta2: 0.9 };
const SMALL_TRANSFORMER = { hiddenDim: 32, numLayers: 1, numHeads: 2, ffnDim: 64, maxSeqLen: 16, dropout: 0 };

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const seeds = arg('seeds', '0,1,2').split(',').map(Number);
const objectives = arg('objectives', 'dpo,simpo').split(',') as ('dpo' | 'simpo')[];
const critics = arg('critics', 'mlp,transformer').split(',') as ('mlp' | 'transformer')[];
const only = arg('only', '');
const lr = Number(arg('lr', '1e-3'));
const steps = Number(arg('steps', '40'));
const backend = arg('backend', 'wasm');

function candidates(kind: 'mlp' | 'transformer'): Record<string, Candidate> {
  const base = { kind, ...(kind === 'transformer' ? { discriminator: SMALL_TRANSFORMER } : {}) };
  return {
    'official, critic lr = policy/2': {
      ganpo: { ...base, negatives: true, criticLearningRate: lr / 2 },
      generator: 'official',
    },
    'official, create() optimizer': { ganpo: { ...base, negatives: true }, generator: 'official' },
    'pair critic, official G': { ganpo: { ...base, negatives: false }, generator: 'official' },
    'pair critic, ragan2 G': { ganpo: { ...base, negatives: false }, generator: 'ragan2' },
    'pair critic, ls-mean G': { ganpo: { ...base, negatives: false }, generator: 'ls-mean' },
    'pair critic, ls-paired G': { ganpo: { ...base, negatives: false }, generator: 'ls-paired' },
    'pair critic, official G, adaptive λ': {
      ganpo: { ...base, negatives: false },
      generator: 'official',
      adaptiveWeight: true,
    },
    'pair critic, official G, λ 0.1': {
      ganpo: { ...base, negatives: false, weight: 0.1 },
      generator: 'official',
    },
    'pair critic lr 1e-3, ls-paired G': {
      ganpo: { ...base, negatives: false, criticLearningRate: 1e-3 },
      generator: 'ls-paired',
    },
    'pair critic lr 1e-3, ls-mean G': {
      ganpo: { ...base, negatives: false, criticLearningRate: 1e-3 },
      generator: 'ls-mean',
    },
    'pair critic lr 1e-3, ls-paired G, λ 10': {
      ganpo: { ...base, negatives: false, criticLearningRate: 1e-3, weight: 10 },
      generator: 'ls-paired',
    },
    'pair critic lr 1e-3, ls-paired G, adaptive λ': {
      ganpo: { ...base, negatives: false, criticLearningRate: 1e-3 },
      generator: 'ls-paired',
      adaptiveWeight: true,
    },
    'pair critic, ls-paired G, adaptive λ': {
      ganpo: { ...base, negatives: false },
      generator: 'ls-paired',
      adaptiveWeight: true,
    },
    'pair critic lr 3e-3, ls-paired G': {
      ganpo: { ...base, negatives: false, criticLearningRate: 3e-3 },
      generator: 'ls-paired',
    },
    'pair critic lr 1e-2, ls-paired G': {
      ganpo: { ...base, negatives: false, criticLearningRate: 1e-2 },
      generator: 'ls-paired',
    },
    'pair critic lr 1e-3 batch, ls-paired G': {
      ganpo: { ...base, negatives: false, criticLearningRate: 1e-3, estimator: 'batch' },
      generator: 'ls-paired',
    },
    'pair critic lr 3e-3 batch, ls-paired G': {
      ganpo: { ...base, negatives: false, criticLearningRate: 3e-3, estimator: 'batch' },
      generator: 'ls-paired',
    },
    'new: pair critic AdamW(2e-3, β 0/0.9), ls-paired G': {
      ganpo: { ...base, negatives: false, ...GAN_ADAM },
      generator: 'ls-paired',
    },
    'T1 ls-mean GAN_ADAM': { ganpo: { ...base, negatives: false, ...GAN_ADAM }, generator: 'ls-mean' },
    'T2 ls-paired GAN_ADAM lr 5e-4': {
      ganpo: { ...base, negatives: false, ...GAN_ADAM, criticLearningRate: 5e-4 },
      generator: 'ls-paired',
    },
    'FM paired GAN_ADAM': { ganpo: { ...base, negatives: false, ...GAN_ADAM }, generator: 'fm-paired' },
    'FM-sum paired GAN_ADAM': {
      ganpo: { ...base, negatives: false, ...GAN_ADAM },
      generator: 'fm-paired-sum',
    },
    'λ 3 new': { ganpo: { ...base, negatives: false, ...GAN_ADAM, weight: 3 }, generator: 'ls-paired' },
    'pair critic AdamW(2e-3, β 0/0.9), official G': {
      ganpo: { ...base, negatives: false, ...GAN_ADAM },
      generator: 'official',
    },
    'pair critic AdamW(2e-3, β 0/0.9), ls-mean G': {
      ganpo: { ...base, negatives: false, ...GAN_ADAM },
      generator: 'ls-mean',
    },
    'quad critic AdamW(2e-3, β 0/0.9), ls-paired G': {
      ganpo: { ...base, negatives: true, ...GAN_ADAM },
      generator: 'ls-paired',
    },
    'pair critic AdamW(1e-3, β 0/0.9), ls-paired G': {
      ganpo: { ...base, negatives: false, ...GAN_ADAM, criticLearningRate: 1e-3 },
      generator: 'ls-paired',
    },
    'pair critic lr 1e-3, official G': {
      ganpo: { ...base, negatives: false, criticLearningRate: 1e-3 },
      generator: 'official',
    },
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};
const fmt = (xs: number[], d = 2) => `${mean(xs).toFixed(d)} ± ${std(xs).toFixed(d)}`;

await tf.setBackend(backend);
await tf.ready();
console.log(`seeds ${seeds.join(',')}, policy lr ${lr}, ${steps} steps, ${backend}`);
for (const objective of objectives) {
  const baseline = new Map<number, number>();
  for (const seed of seeds)
    baseline.set(seed, runDrift({ seed, objective, ganpo: false, learningRate: lr, steps }).drift);
  console.log(`\n${objective}: drift alone ${fmt([...baseline.values()], 4)}`);
  for (const kind of critics) {
    for (const [name, c] of Object.entries(candidates(kind))) {
      if (only && !only.split(',').some((o) => name.includes(o))) continue;
      const ratios: number[] = [];
      const critic: number[] = [];
      const pref: number[] = [];
      let ms = 0;
      for (const seed of seeds) {
        const r = runDrift({ ...c, seed, objective, learningRate: lr, steps });
        ratios.push(r.drift / (baseline.get(seed) as number));
        critic.push(Math.LN2 - r.criticLoss);
        pref.push(r.preferenceLoss);
        ms += r.ms;
      }
      console.log(
        `${objective} | ${kind} | ${name} | drift ratio ${fmt(ratios)} [${ratios.map((x) => x.toFixed(2)).join(' ')}] | log2 − critic loss ${fmt(critic, 3)} | pref loss ${fmt(pref, 3)} | ${(ms / seeds.length / 1000).toFixed(1)} s/run`,
      );
    }
  }
}
