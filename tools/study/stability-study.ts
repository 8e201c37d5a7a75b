// Long-run stability of GANPO's default against the preference loss alone: drift-against-steps
// curves, both critic kinds, several policy learning rates, through a hand-written loop and through
// `GanpoTrainer`, on three small settings:
//
// - `tiny-random`: the tiny policy of tools/study/tiny-policy.ts on pairs whose chosen and rejected
//   responses are drawn alike (no preference to learn; a fresh batch every step);
// - `tiny-pref`: the same policy on the good/bad-token task (30 % signal);
// - `tinylm`: the 1-block causal transformer of tools/study/drift-experiment.ts (dim 16) on 64 random
//   pairs, cycled.
//
//   node --import tsx tools/study/stability-study.ts [--seeds 1,2,3] [--steps 400] [--eval-every 40]
//     [--lrs 1e-3,3e-3,1e-2] [--tasks tiny-random,tiny-pref,tinylm] [--critics mlp,transformer]
//     [--loops hand,trainer] [--arms default,legacy] [--out FILE.json]
//   node --import tsx tools/study/stability-study.ts --from-json a.json,b.json [--report DIR]
//
// `default` is the regularizer's default; `legacy` the previous default (paired feature matching on
// the live critics). Each run's held-out drift at every evaluation point is divided by that of the
// preference loss alone (same task, loop, learning rate, seed, data and schedule).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import {
  type CausalLM,
  GanpoTrainer,
  type PreferencePair,
  setLogger,
  setValidationLevel,
} from '../../src/index';
import { DRIFT_PROMPT_LENGTH, driftData, driftPolicy, lastHiddenDrift, runDrift } from './drift-experiment';
import { type GanpoOptions, runLoop } from './stability-loop';
import { evaluateTiny, TINY_TASK, TinyPolicy, type TinyTask, tinyPairs } from './tiny-policy';

export type StudyTaskName = 'tiny-random' | 'tiny-pref' | 'tinylm';
export type Critic = 'mlp' | 'transformer';
export type Arm = 'default' | 'legacy';
export type Loop = 'hand' | 'trainer';

/** One run: drift at each evaluation point (step 0 excluded). */
export interface StabilityRun {
  task: StudyTaskName;
  loop: Loop;
  lr: number;
  seed: number;
  /** `base` = the preference loss alone. */
  arm: Arm | 'base';
  critic: Critic | null;
  steps: number[];
  drift: number[];
  /** Critic loss (mean of both) at each evaluation point's step; NaN for the base. */
  criticLoss: number[];
  seconds: number;
}

/** The small transformer critic of the studies (the default transformer critic at width 32, one layer). */
const TRANSFORMER: GanpoOptions = { critic: { kind: 'transformer', hiddenDim: 32, numLayers: 1 } };

/** The default before the long-run fix: paired feature matching on the live critics. */
const LEGACY: GanpoOptions = { generator: 'paired-feature-matching', targetDecay: 0 };

/** The regularizer options of a critic kind and arm. */
export function armOptions(critic: Critic, arm: Arm): GanpoOptions {
  const base: GanpoOptions = critic === 'mlp' ? { critic: { kind: 'mlp' } } : TRANSFORMER;
  return arm === 'legacy' ? { ...base, ...LEGACY } : base;
}

const tinyTask = (name: StudyTaskName): TinyTask => ({
  ...TINY_TASK,
  signal: name === 'tiny-random' ? 0 : 0.3,
});

/** One hand-written-loop run. */
function handRun(
  task: StudyTaskName,
  lr: number,
  seed: number,
  steps: number,
  evalEvery: number,
  ganpo: GanpoOptions | false,
): Pick<StabilityRun, 'steps' | 'drift' | 'criticLoss' | 'seconds'> {
  if (task === 'tinylm') {
    const t0 = performance.now();
    const out = { steps: [] as number[], drift: [] as number[], criticLoss: [] as number[] };
    let critic = Number.NaN;
    runDrift({
      seed,
      objective: 'dpo',
      ganpo,
      steps,
      learningRate: lr,
      evalEvery,
      onStep: (_s, c) => {
        critic = c;
      },
      onEval: (s, d) => {
        out.steps.push(s);
        out.drift.push(d);
        out.criticLoss.push(critic);
      },
    });
    return { ...out, seconds: (performance.now() - t0) / 1000 };
  }
  const r = runLoop({
    seed,
    steps,
    lr,
    evalEvery,
    task: tinyTask(task),
    penalty: ganpo === false ? 'none' : 'ganpo',
    ...(ganpo === false ? {} : { ganpo }),
    instrument: false,
  });
  const evals = r.evals.slice(1);
  return {
    steps: evals.map((e) => e.step),
    drift: evals.map((e) => e.drift),
    criticLoss: evals.map((e) => {
      const rec = r.records[e.step - 1];
      return rec ? (rec.criticLoss[0] + rec.criticLoss[1]) / 2 : Number.NaN;
    }),
    seconds: r.seconds,
  };
}

/** The policy, reference, pairs and drift measure of a task for the trainer. */
function trainerSetting(task: StudyTaskName, seed: number, steps: number) {
  if (task === 'tinylm') {
    const policy = driftPolicy(seed);
    const reference = policy.clone();
    const data = driftData(seed);
    const pairs: PreferencePair[] = data.chosen.map((c, i) => ({
      prompt: c.slice(0, DRIFT_PROMPT_LENGTH),
      chosen: c.slice(DRIFT_PROMPT_LENGTH),
      rejected: (data.rejected[i] as number[]).slice(DRIFT_PROMPT_LENGTH),
    }));
    return {
      policy: policy as unknown as CausalLM,
      reference: reference as unknown as CausalLM,
      latentDim: policy.config.dim,
      pairs,
      drift: () => lastHiddenDrift(policy, reference, data.heldOut),
      dispose: () => {
        policy.model.dispose();
        reference.model.dispose();
      },
    };
  }
  const t = tinyTask(task);
  const policy = new TinyPolicy(t, 1000 + seed);
  const reference = policy.clone();
  const heldOut = tinyPairs(t, 7919 * seed + 2, 256);
  return {
    policy: policy as CausalLM,
    reference: reference as CausalLM,
    latentDim: t.latent,
    pairs: tinyPairs(t, 7919 * seed + 1, steps * 8),
    drift: () => evaluateTiny(policy, reference, heldOut).drift,
    dispose: () => {
      policy.dispose();
      reference.dispose();
    },
  };
}

/** One `GanpoTrainer` run (warm-up 10 % + cosine, clipping 1, the trainer's critic optimizer). */
async function trainerRun(
  task: StudyTaskName,
  lr: number,
  seed: number,
  steps: number,
  evalEvery: number,
  ganpo: GanpoOptions | false,
): Promise<Pick<StabilityRun, 'steps' | 'drift' | 'criticLoss' | 'seconds'>> {
  const t0 = performance.now();
  const s = trainerSetting(task, seed, steps);
  let critic = Number.NaN;
  const trainer = new GanpoTrainer({
    model: { policy: s.policy, reference: s.reference, latentDim: s.latentDim },
    data: { collate: { padTokenId: 0, eosTokenId: null }, batchSize: 8 },
    training: { learningRate: lr, totalSteps: steps, seed },
    objective: { kind: 'dpo', beta: 0.1 },
    regularizer: ganpo === false ? false : { seed: 100 + seed, ...ganpo },
    logging: {
      onStep: (m) => {
        critic =
          ((m['ganpo/discriminator_loss_chosen'] ?? Number.NaN) +
            (m['ganpo/discriminator_loss_rejected'] ?? Number.NaN)) /
          2;
      },
    },
  });
  const out = { steps: [] as number[], drift: [] as number[], criticLoss: [] as number[] };
  try {
    for (let done = 0; done < steps; done += evalEvery) {
      await trainer.train(s.pairs, { steps: evalEvery });
      out.steps.push(Math.min(done + evalEvery, steps));
      out.drift.push(s.drift());
      out.criticLoss.push(critic);
    }
  } finally {
    trainer.dispose();
    s.dispose();
  }
  return { ...out, seconds: (performance.now() - t0) / 1000 };
}

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const list = <T extends string>(name: string, fallback: string) => arg(name, fallback).split(',') as T[];

async function run(): Promise<void> {
  const seeds = arg('seeds', '1,2,3').split(',').map(Number);
  const steps = Number(arg('steps', '400'));
  const evalEvery = Number(arg('eval-every', '40'));
  const lrs = arg('lrs', '1e-3,3e-3,1e-2').split(',').map(Number);
  const tasks = list<StudyTaskName>('tasks', 'tiny-random,tiny-pref,tinylm');
  const critics = list<Critic>('critics', 'mlp,transformer');
  const loops = list<Loop>('loops', 'hand,trainer');
  const arms = list<Arm>('arms', 'default,legacy');
  await tf.setBackend(arg('backend', 'wasm'));
  await tf.ready();
  setValidationLevel('shapes');
  setLogger(null);
  const runs: StabilityRun[] = [];
  const t0 = performance.now();
  for (const task of tasks)
    for (const loop of loops)
      for (const lr of lrs)
        for (const seed of seeds) {
          const go = (ganpo: GanpoOptions | false) =>
            loop === 'hand'
              ? Promise.resolve(handRun(task, lr, seed, steps, evalEvery, ganpo))
              : trainerRun(task, lr, seed, steps, evalEvery, ganpo);
          const base = { task, loop, lr, seed, arm: 'base' as const, critic: null, ...(await go(false)) };
          runs.push(base);
          for (const critic of critics)
            for (const arm of arms) {
              const r = { task, loop, lr, seed, arm, critic, ...(await go(armOptions(critic, arm))) };
              runs.push(r);
              const ratios = r.drift.map((d, i) => d / (base.drift[i] as number));
              console.log(
                `${task} ${loop} lr ${lr} seed ${seed} ${critic} ${arm}: ${ratios.map((x, i) => `${r.steps[i]}:${x.toFixed(2)}`).join(' ')} | max ${Math.max(...ratios).toFixed(2)} (${r.seconds.toFixed(0)} s)`,
              );
            }
        }
  const out = arg('out', '');
  const command = `node --import tsx tools/study/stability-study.ts ${process.argv.slice(2).join(' ')}`;
  if (out) {
    writeFileSync(
      out,
      `${JSON.stringify({ command, wallSeconds: (performance.now() - t0) / 1000, backend: tf.getBackend(), runs }, null, 1)}\n`,
    );
  }
}

/** Saved runs of one or more parts. */
export interface StabilityResults {
  command: string;
  wallSeconds: number;
  backend: string;
  runs: StabilityRun[];
}

/** Every run of the parts, each (task, loop, lr, seed, arm, critic) once. */
export function mergeStability(parts: readonly StabilityResults[]): StabilityRun[] {
  const key = (r: StabilityRun) => [r.task, r.loop, r.lr, r.seed, r.arm, r.critic].join('|');
  const seen = new Map<string, StabilityRun>();
  for (const r of parts.flatMap((p) => p.runs)) if (!seen.has(key(r))) seen.set(key(r), r);
  return [...seen.values()];
}

/** Per-run drift ratios against the base of the same setting and seed. */
export function ratioCurves(runs: readonly StabilityRun[]) {
  const base = (r: StabilityRun) =>
    runs.find(
      (b) => b.arm === 'base' && b.task === r.task && b.loop === r.loop && b.lr === r.lr && b.seed === r.seed,
    );
  return runs
    .filter((r) => r.arm !== 'base')
    .map((r) => {
      const b = base(r);
      return { ...r, ratio: r.drift.map((d, i) => d / (b?.drift[i] ?? Number.NaN)) };
    });
}

function report(parts: StabilityResults[], dir: string): void {
  const curves = ratioCurves(mergeStability(parts));
  const lines: string[] = [];
  const groups = new Map<string, typeof curves>();
  for (const c of curves) {
    const k = [c.task, c.loop, c.critic, c.arm, c.lr].join('|');
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const steps = curves[0]?.steps ?? [];
  lines.push(
    `| task | loop | critic | arm | policy lr | seeds | ${steps.map((s) => `step ${s}`).join(' | ')} | max over steps and seeds |`,
    `|---|---|---|---|---|---|${steps.map(() => '---|').join('')}---|`,
  );
  for (const [k, cs] of groups) {
    const [task, loop, critic, arm, lr] = k.split('|');
    const cells = steps.map((_, i) => {
      const xs = cs.map((c) => c.ratio[i] as number);
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      return `${m.toFixed(2)} (${Math.max(...xs).toFixed(2)})`;
    });
    const max = Math.max(...cs.flatMap((c) => c.ratio));
    lines.push(
      `| ${task} | ${loop} | ${critic} | ${arm} | ${lr} | ${cs.map((c) => c.seed).join(',')} | ${cells.join(' | ')} | ${max >= 1 ? `**${max.toFixed(2)}**` : max.toFixed(2)} |`,
    );
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stability.md'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(dir, 'stability.json'),
    `${JSON.stringify({ parts: parts.map((p) => ({ command: p.command, wallSeconds: p.wallSeconds })), backend: parts[0]?.backend, runs: mergeStability(parts) }, null, 1)}\n`,
  );
  console.log(lines.join('\n'));
}

if (process.argv[1]?.endsWith('stability-study.ts')) {
  const from = arg('from-json', '');
  if (from) {
    report(
      from.split(',').map((f) => JSON.parse(readFileSync(f, 'utf8')) as StabilityResults),
      arg('report', 'tmp/stability'),
    );
  } else {
    await run();
  }
}
