// Interleaved A/B of kernelFlags levers on one step, for deciding a single lever:
//   node --import tsx bench/ab-flags.ts --off=flag[,flag] [--rounds=20] [--wrap]
//     [--step=discriminator|ganpo-transformer|ganpo-official|ganpo-mlp|dpo]
// --wrap runs the whole step inside withSharedClones (what sharing the saved tensors would give a
// caller that wraps its own training step; without it only ganpo's regularizer does).
// Each round runs the step with every lever on (A) and with the named levers off (B), in the order
// A B in even rounds and B A in odd ones (so neither side always runs first), timing wall and
// process CPU time of each step. Prints the per-round ratios B / A as median ± MAD, and the load
// average before and after (other processes sharing the cores inflate absolute times alike).
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setValidationLevel } from '../src/core/config';
import { kernelFlags } from '../src/ops/kernel-flags';
import { withSharedClones } from '../src/ops/wasm/shared-clone';
import { makeStep } from './suites/discriminator';
import { makeGanpoStepSetup } from './suites/ganpo-step';
import { summarize } from './util';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const off = arg('off', '').split(',').filter(Boolean);
for (const f of off) if (!(f in kernelFlags)) throw new Error(`unknown kernel flag ${f}`);
const rounds = Number(arg('rounds', '20'));
const which = arg('step', 'discriminator');

setValidationLevel('shapes');
await tf.setBackend('wasm');
await tf.ready();

let step: () => void;
let dispose: () => void;
if (which === 'discriminator') {
  ({ step, dispose } = makeStep('auto'));
} else {
  const setup = makeGanpoStepSetup();
  const name = {
    'ganpo-transformer': 'transformer',
    'ganpo-official': 'transformerOfficial',
    'ganpo-mlp': 'mlp',
    dpo: 'dpo',
  }[which] as keyof typeof setup.variants | undefined;
  if (!name) throw new Error(`unknown step ${which}`);
  const v = setup.variants[name];
  step = () => {
    v.trainer.trainStep(setup.pairs);
  };
  dispose = setup.dispose;
}

const saved = { ...kernelFlags };
const withFlags = (lever: boolean): void => {
  Object.assign(kernelFlags, saved);
  if (lever) for (const f of off) (kernelFlags as Record<string, boolean>)[f] = false;
};
const timed = (lever: boolean): { wall: number; cpu: number } => {
  withFlags(lever);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (args.includes('--wrap')) withSharedClones(step);
  else step();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  withFlags(false);
  return { wall, cpu: (c.user + c.system) / 1000 };
};

const load0 = loadavg()[0] as number;
for (let i = 0; i < 2; i++) {
  timed(false);
  timed(true);
}
const a: { wall: number; cpu: number }[] = [];
const b: { wall: number; cpu: number }[] = [];
for (let r = 0; r < rounds; r++) {
  if (r % 2 === 0) {
    a.push(timed(false));
    b.push(timed(true));
  } else {
    b.push(timed(true));
    a.push(timed(false));
  }
}
const load1 = loadavg()[0] as number;
const ratio = (k: 'wall' | 'cpu') =>
  summarize(b.map((x, i) => x[k] / (a[i] as { wall: number; cpu: number })[k]));
const med = (k: 'wall' | 'cpu', xs: typeof a) => summarize(xs.map((x) => x[k]));
const fmt = (t: { median: number; mad: number }, d = 3) => `${t.median.toFixed(d)} ±${t.mad.toFixed(d)}`;
console.log(
  `${which}, off=${off.join(',') || '(none)'}, ${rounds} rounds, load average ${load0.toFixed(2)} → ${load1.toFixed(2)}`,
);
console.log(`  on : wall ${fmt(med('wall', a), 1)} ms, cpu ${fmt(med('cpu', a), 1)} ms`);
console.log(`  off: wall ${fmt(med('wall', b), 1)} ms, cpu ${fmt(med('cpu', b), 1)} ms`);
console.log(`  off / on: wall ${fmt(ratio('wall'))}, cpu ${fmt(ratio('cpu'))}`);
dispose();
