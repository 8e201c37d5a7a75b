// Latent-drift study: `node --import tsx tools/study/drift.ts [--seeds 0,1,2] [--only name;...]
// [--objectives dpo,simpo] [--critics mlp,transformer] [--lr 1e-3] [--steps 40] [--backend wasm]
// [--explore | --issue] [--policy-layers 2] [--critic-layer last,middle]`. Prints, per candidate, critic and objective,
// drift(pref + GANPO) / drift(pref alone) paired by seed (mean ± sample std over seeds), and the
// critics' mean loss over the last 10 steps.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import type { CriticOptions } from '../../src/index';
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
/**
 * Critics: `mlp` (create() defaults), `transformer` (the small transformer above, deterministic),
 * `transformer-w32` (create() transformer defaults with width 32: 2 layers, 8 heads, dropout 0.1).
 */
type CriticName = 'mlp' | 'transformer' | 'transformer-w32';
const critics = arg('critics', 'mlp,transformer').split(',') as CriticName[];
function criticBase(kind: CriticName): { critic: CriticOptions } {
  if (kind === 'mlp') return { critic: { kind: 'mlp' } };
  return {
    critic: { kind: 'transformer', ...(kind === 'transformer' ? SMALL_TRANSFORMER : { hiddenDim: 32 }) },
  };
}
const only = arg('only', '');
const lr = Number(arg('lr', '1e-3'));
const steps = Number(arg('steps', '40'));
const backend = arg('backend', 'wasm');
/** Transformer blocks of the policy (default 1) and which hidden state feeds the critics (a list). */
const policyLayers = Number(arg('policy-layers', '1'));
const criticLayers = arg('critic-layer', 'last').split(',') as ('last' | 'middle')[];
const layered = policyLayers >= 2;

/** The table in docs/troubleshooting.md: the library's two presets, with create()'s defaults. */
function mainCandidates(kind: CriticName): Record<string, Candidate> {
  const base = criticBase(kind);
  return {
    "preset 'official', create() optimizer": { ganpo: { ...base, preset: 'official' } },
    "preset 'official', critic lr = policy lr / 2": {
      ganpo: { ...base, preset: 'official', criticLearningRate: lr / 2 },
    },
    "preset 'recommended' (default)": { ganpo: { ...base } },
  };
}

/** The configurations evaluated on the way (`--explore`); generators computed by the harness. */
function exploreCandidates(kind: CriticName): Record<string, Candidate> {
  const base = criticBase(kind);
  const pair = { ...base, negatives: false };
  return {
    'quad critic, official G, critic lr policy/2': {
      ganpo: { ...base, negatives: true, criticLearningRate: lr / 2 },
      generator: 'official',
    },
    'pair critic, official G': { ganpo: pair, generator: 'official' },
    'pair critic, symmetric RaGAN G': { ganpo: pair, generator: 'ragan2' },
    'pair critic, official G, adaptive λ (VQGAN)': {
      ganpo: pair,
      generator: 'official',
      adaptiveWeight: true,
    },
    'pair critic, official G, λ 0.1': { ganpo: { ...pair, weight: 0.1 }, generator: 'official' },
    'pair critic, ls-mean G': { ganpo: pair, generator: 'ls-mean' },
    'pair critic, ls-paired G': { ganpo: pair, generator: 'ls-paired' },
    'pair critic lr 1e-3, ls-paired G': {
      ganpo: { ...pair, criticLearningRate: 1e-3 },
      generator: 'ls-paired',
    },
    'pair critic lr 1e-3, ls-paired G, adaptive λ': {
      ganpo: { ...pair, criticLearningRate: 1e-3 },
      generator: 'ls-paired',
      adaptiveWeight: true,
    },
    'pair critic lr 3e-3, ls-paired G': {
      ganpo: { ...pair, criticLearningRate: 3e-3 },
      generator: 'ls-paired',
    },
    'pair critic lr 1e-3 batch means, ls-paired G': {
      ganpo: { ...pair, criticLearningRate: 1e-3, estimator: 'batch' },
      generator: 'ls-paired',
    },
    'pair critic GAN-Adam, official G': { ganpo: { ...pair, ...GAN_ADAM }, generator: 'official' },
    'pair critic GAN-Adam, ls-paired G': { ganpo: { ...pair, ...GAN_ADAM }, generator: 'ls-paired' },
    'pair critic GAN-Adam lr 5e-4, ls-paired G': {
      ganpo: { ...pair, ...GAN_ADAM, criticLearningRate: 5e-4 },
      generator: 'ls-paired',
    },
    'pair critic GAN-Adam, ls-mean G': { ganpo: { ...pair, ...GAN_ADAM }, generator: 'ls-mean' },
    'pair critic GAN-Adam, FM (mean over features) G': {
      ganpo: { ...pair, ...GAN_ADAM },
      generator: 'fm-paired',
    },
    'pair critic GAN-Adam, FM (sum over features) G': {
      ganpo: { ...pair, ...GAN_ADAM },
      generator: 'fm-paired-sum',
    },
    'quad critic GAN-Adam, FM (sum over features) G': {
      ganpo: { ...base, negatives: true, ...GAN_ADAM },
      generator: 'fm-paired-sum',
    },
  };
}
/**
 * The default and the official preset with the critic optimizers a user gets without choosing
 * (`--issue`): create()'s own optimizer, and the official ratio (critic lr = policy lr / 2) with
 * the preset's betas and with AdamW's usual ones.
 */
function issueCandidates(kind: CriticName): Record<string, Candidate> {
  const base = criticBase(kind);
  return {
    "preset 'official', create() optimizer": { ganpo: { ...base, preset: 'official' } },
    "preset 'recommended' (default), create() optimizer": { ganpo: { ...base } },
    "preset 'recommended', critic lr = policy lr / 2, β (0, 0.9)": {
      ganpo: { ...base, criticLearningRate: lr / 2, criticBeta1: 0, criticBeta2: 0.9 },
    },
    "preset 'recommended', critic lr = policy lr / 2, β (0.9, 0.999)": {
      ganpo: { ...base, criticLearningRate: lr / 2 },
    },
  };
}
/**
 * The default generator with explicit critic AdamW settings (`--critic-lrs 2e-3,1e-2
 * --critic-beta1s 0,0.5 [--critic-beta2 0.9] [--critic-mlp 256,256] [--critic-steps 1]`).
 */
function gridCandidates(kind: CriticName): Record<string, Candidate> {
  const mlpDims = arg('critic-mlp', '');
  const base =
    kind === 'mlp' && mlpDims
      ? { critic: { kind, hiddenDims: mlpDims.split(',').map(Number) } }
      : criticBase(kind);
  const beta2 = Number(arg('critic-beta2', '0.9'));
  const criticSteps = Number(arg('critic-steps', '1'));
  const out: Record<string, Candidate> = {};
  for (const clr of arg('critic-lrs', '2e-3').split(',').map(Number)) {
    for (const beta1 of arg('critic-beta1s', '0').split(',').map(Number)) {
      for (const floor of arg('floors', '')
        .split(',')
        .filter(Boolean)
        .map(Number)
        .concat(arg('floors', '') ? [] : [Number.NaN])) {
        const name = `critic lr ${clr}, β (${beta1}, ${beta2})${Number.isNaN(floor) ? '' : `, loss floor ${floor}`}${criticSteps > 1 ? `, ${criticSteps} critic steps` : ''}${mlpDims ? `, MLP [${mlpDims}]` : ''}`;
        out[name] = {
          ganpo: {
            ...base,
            ...(Number.isNaN(floor) ? {} : { lossFloor: floor }),
            criticLearningRate: clr,
            criticBeta1: beta1,
            criticBeta2: beta2,
            criticSteps,
          },
        };
      }
    }
  }
  return out;
}
const candidates = process.argv.includes('--grid')
  ? gridCandidates
  : process.argv.includes('--explore')
    ? exploreCandidates
    : process.argv.includes('--issue')
      ? issueCandidates
      : mainCandidates;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};
const fmt = (xs: number[], d = 2) => `${mean(xs).toFixed(d)} ± ${std(xs).toFixed(d)}`;

await tf.setBackend(backend);
await tf.ready();
console.log(
  `seeds ${seeds.join(',')}, policy lr ${lr}, ${steps} steps, ${policyLayers} policy layer(s), ${backend}`,
);
for (const objective of objectives) {
  const baseline = new Map<number, number>();
  const baselineMiddle = new Map<number, number>();
  const basePref: number[] = [];
  for (const seed of seeds) {
    const r = runDrift({ seed, objective, ganpo: false, learningRate: lr, steps, numLayers: policyLayers });
    baseline.set(seed, r.drift);
    baselineMiddle.set(seed, r.driftMiddle);
    basePref.push(r.preferenceLoss);
  }
  console.log(
    `\n${objective}: drift alone ${fmt([...baseline.values()], 4)}${layered ? `, middle-layer drift alone ${fmt([...baselineMiddle.values()], 4)}` : ''}, pref loss ${fmt(basePref, 3)}`,
  );
  for (const kind of critics) {
    for (const criticLayer of criticLayers) {
      for (const [name, c] of Object.entries(candidates(kind))) {
        if (only && !only.split(';').some((o) => name.includes(o))) continue;
        const ratios: number[] = [];
        const middle: number[] = [];
        const critic: number[] = [];
        const criticTenth: number[] = [];
        const pref: number[] = [];
        let ms = 0;
        for (const seed of seeds) {
          const r = runDrift({
            ...c,
            seed,
            objective,
            learningRate: lr,
            steps,
            numLayers: policyLayers,
            criticLayer,
          });
          ratios.push(r.drift / (baseline.get(seed) as number));
          middle.push(r.driftMiddle / (baselineMiddle.get(seed) as number));
          critic.push(Math.LN2 - r.criticLoss);
          criticTenth.push(Math.LN2 - r.criticLossLastTenth);
          pref.push(r.preferenceLoss);
          ms += r.ms;
        }
        const list = (xs: number[]) => `[${xs.map((x) => x.toFixed(2)).join(' ')}]`;
        const layerCols = layered
          ? ` | critic layer ${criticLayer} | last-layer drift ratio ${fmt(ratios)} ${list(ratios)} | middle-layer drift ratio ${fmt(middle)} ${list(middle)} | log2 − critic loss (last 10 % of steps) ${fmt(criticTenth, 3)}`
          : ` | drift ratio ${fmt(ratios)} ${list(ratios)}`;
        console.log(
          `${objective} | ${kind} | ${name}${layerCols} | log2 − critic loss ${fmt(critic, 3)} | pref loss ${fmt(pref, 3)} | ${(ms / seeds.length / 1000).toFixed(1)} s/run`,
        );
      }
    }
  }
}
