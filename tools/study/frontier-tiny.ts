// Pareto frontiers on the tiny good/bad-token task (tools/study/tiny-policy.ts), hand-written loop:
// preference quality (held-out preference accuracy, win rate of sampled responses against the
// reference's, judged by the task's reward #good − #bad) against latent drift and against
// KL(π_θ ‖ π_ref) on the policy's own samples, for DPO alone over β and for every regularizer over
// its weight λ, paired by seed with DPO at β 0.1.
//
//   node --import tsx tools/study/frontier-tiny.ts [--seeds 1,2,3] [--steps 200] [--lr 5e-3]
//     [--only family,...] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { renderScatter, type ScatterPanel } from '../../examples/demo/scatter';
import { formatMeanStd, meanStd } from '../../examples/demo/stats';
import { setValidationLevel } from '../../src/index';
import { type GanpoOptions, type LoopConfig, runLoop } from './stability-loop';
import type { TinyEval } from './tiny-policy';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};

/** One point of a frontier: a method family at one value of its knob. */
export interface FrontierArm {
  family: string;
  /** The knob's name and value (β for DPO alone, λ otherwise). */
  knob: string;
  value: number;
  config: Omit<LoopConfig, 'seed' | 'steps' | 'lr'>;
}

const T: GanpoOptions = { critic: { kind: 'transformer', hiddenDim: 32, numLayers: 1 } };
const M: GanpoOptions = { critic: { kind: 'mlp' } };
const FROZEN = 1e9;

/** The arms of the study. */
export function frontierArms(): FrontierArm[] {
  const arms: FrontierArm[] = [];
  const add = (
    family: string,
    knob: string,
    values: number[],
    make: (v: number) => FrontierArm['config'],
  ) => {
    for (const v of values) arms.push({ family, knob, value: v, config: make(v) });
  };
  add('DPO (β sweep)', 'β', [0.03, 0.1, 0.3, 1], (beta) => ({ penalty: 'none', beta }));
  add('anchor', 'λ', [0.01, 0.03, 0.1, 0.3, 1], (lambda) => ({ penalty: 'anchor', lambda }));
  add('MMD', 'λ', [0.01, 0.1, 1], (lambda) => ({ penalty: 'mmd', lambda }));
  add('official', 'λ', [1], (lambda) => ({ penalty: 'ganpo', lambda, ganpo: { ...M, preset: 'official' } }));
  add('default, MLP critic', 'λ', [0.3, 1, 3], (lambda) => ({ penalty: 'ganpo', lambda, ganpo: M }));
  add('default, transformer critic', 'λ', [0.1, 0.3, 1], (lambda) => ({
    penalty: 'ganpo',
    lambda,
    ganpo: T,
  }));
  add('frozen MLP critic', 'λ', [1], (lambda) => ({
    penalty: 'ganpo',
    lambda,
    ganpo: { ...M, lossFloor: FROZEN },
  }));
  add('frozen transformer critic', 'λ', [1], (lambda) => ({
    penalty: 'ganpo',
    lambda,
    ganpo: { ...T, lossFloor: FROZEN },
  }));
  return arms;
}

type Metric = keyof TinyEval;
const label = (a: FrontierArm) => `${a.family} ${a.knob}=${a.value}`;

async function main(): Promise<void> {
  const seeds = arg('seeds', '1,2,3').split(',').map(Number);
  const steps = Number(arg('steps', '200'));
  const lr = Number(arg('lr', '5e-3'));
  const out = arg('out', 'tmp/frontier-tiny');
  const only = arg('only', '');
  await tf.setBackend(arg('backend', 'wasm'));
  await tf.ready();
  setValidationLevel('shapes');
  const arms = frontierArms().filter((a) => !only || only.split(',').some((o) => a.family.startsWith(o)));
  const results: {
    arm: string;
    family: string;
    knob: string;
    value: number;
    seed: number;
    eval: TinyEval;
    seconds: number;
  }[] = [];
  for (const seed of seeds) {
    for (const a of arms) {
      const r = runLoop({ ...a.config, seed, steps, lr, evalEvery: steps, instrument: false });
      const e = r.evals.at(-1) as TinyEval;
      results.push({
        arm: label(a),
        family: a.family,
        knob: a.knob,
        value: a.value,
        seed,
        eval: e,
        seconds: r.seconds,
      });
      console.log(
        `seed ${seed} ${label(a)}: acc ${e.accuracy.toFixed(3)} win ${e.winRate.toFixed(3)} reward ${e.reward.toFixed(2)} drift ${e.drift.toFixed(4)} kl ${e.kl.toFixed(3)} good ${e.goodMass.toFixed(2)} bad ${e.badMass.toFixed(3)} (${r.seconds.toFixed(0)} s)`,
      );
    }
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), `${JSON.stringify({ seeds, steps, lr, results }, null, 1)}\n`);
  const base = label(arms.find((a) => a.family.startsWith('DPO') && a.value === 0.1) as FrontierArm);
  const of = (arm: string, m: Metric) =>
    seeds.map((s) => results.find((r) => r.arm === arm && r.seed === s)?.eval[m] ?? Number.NaN);
  const pairedDiff = (arm: string, m: Metric) => of(arm, m).map((x, i) => x - (of(base, m)[i] as number));
  const f = (xs: number[], digits: number, scale = 1) => formatMeanStd(xs, { digits, scale });
  const rows = arms.map((a) => {
    const n = label(a);
    return `| ${a.family} | ${a.knob} = ${a.value} | ${f(of(n, 'accuracy'), 1, 100)} | ${f(pairedDiff(n, 'accuracy'), 1, 100)} | ${f(of(n, 'winRate'), 1, 100)} | ${f(pairedDiff(n, 'winRate'), 1, 100)} | ${f(of(n, 'drift'), 3)} | ${f(of(n, 'kl'), 2)} | ${f(of(n, 'goodMass'), 2)} | ${f(of(n, 'badMass'), 3)} |`;
  });
  const md = [
    `Tiny policy, ${steps} steps, lr ${lr}, seeds ${seeds.join(',')}; Δ paired with ${base} (same seed).`,
    '',
    '| method | knob | pref. accuracy (%) | Δ acc (pts) | win rate vs reference (%) | Δ win (pts) | drift | KL (nats) | good mass | bad mass |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(`\n${md}`);
  writeFileSync(join(out, 'results.md'), `${md}\n`);
  const families = [...new Set(arms.map((a) => a.family))];
  const panel = (x: Metric, y: Metric, title: string, xLabel: string, yLabel: string): ScatterPanel => ({
    title,
    xLabel,
    yLabel,
    series: families.map((fam) => ({
      name: fam,
      points: arms
        .filter((a) => a.family === fam)
        .map((a) => {
          const xs = meanStd(of(label(a), x));
          const ys = meanStd(of(label(a), y).map((v) => 100 * v));
          return { x: xs.mean, xErr: xs.std, y: ys.mean, yErr: ys.std, label: `${a.knob}=${a.value}` };
        }),
    })),
  });
  writeFileSync(
    join(out, 'frontier.svg'),
    renderScatter(
      [
        panel(
          'drift',
          'accuracy',
          'preference accuracy vs latent drift',
          'held-out latent drift',
          'accuracy (%)',
        ),
        panel('kl', 'accuracy', 'preference accuracy vs KL', 'KL(π_θ ‖ π_ref), nats', 'accuracy (%)'),
        panel(
          'drift',
          'winRate',
          'win rate vs latent drift',
          'held-out latent drift',
          'win rate vs reference (%)',
        ),
        panel('kl', 'winRate', 'win rate vs KL', 'KL(π_θ ‖ π_ref), nats', 'win rate vs reference (%)'),
      ],
      { title: `Tiny good/bad-token task: frontiers (mean ± std over ${seeds.length} seeds)`, columns: 2 },
    ),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
