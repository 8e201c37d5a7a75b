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
//     [--loops hand,trainer] [--arms default,legacy] [--trainer-arms default] [--latent 12]
//     [--out FILE.json]
//   node --import tsx tools/study/stability-study.ts --from-json a.json,b.json [--report DIR]
//   (npm run study -- … runs the same script)
//
// `default` is the regularizer's default; `legacy` the previous default (paired feature matching on
// the live critics). Each run's held-out drift at every evaluation point is divided by that of the
// preference loss alone (same task, loop, learning rate, seed, data and schedule).
import { readFileSync, writeFileSync } from 'node:fs';
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
import { writeStabilityReport } from './stability-report';
import { evaluateTiny, TINY_TASK, TinyPolicy, type TinyTask, tinyPairs } from './tiny-policy';

export type StudyTaskName = 'tiny-random' | 'tiny-pref' | 'tinylm';
export type Critic = 'mlp' | 'transformer';
/** `target-only` / `relative-only`: the default with one of its two parts undone (the ablation). */
export type Arm = 'default' | 'legacy' | 'target-only' | 'relative-only';
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
  /** Latent width of the policy. */
  latent: number;
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

const ARMS: Record<Arm, GanpoOptions> = {
  default: {},
  legacy: LEGACY,
  'target-only': { generator: 'paired-feature-matching' },
  'relative-only': { targetDecay: 0 },
};

/** The regularizer options of a critic kind and arm. */
export function armOptions(critic: Critic, arm: Arm): GanpoOptions {
  const base: GanpoOptions = critic === 'mlp' ? { critic: { kind: 'mlp' } } : TRANSFORMER;
  return { ...base, ...ARMS[arm] };
}

/** Latent width of the tiny policy (`--latent`, default TINY_TASK's). */
let latentWidth = TINY_TASK.latent;

const tinyTask = (name: StudyTaskName): TinyTask => ({
  ...TINY_TASK,
  latent: latentWidth,
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
  // The trainer runs the hand loop's algorithm; on a busy machine its arms can be limited.
  const trainerArms = list<Arm>('trainer-arms', arms.join(','));
  latentWidth = Number(arg('latent', String(TINY_TASK.latent)));
  await tf.setBackend(arg('backend', 'wasm'));
  await tf.ready();
  setValidationLevel('shapes');
  setLogger(null);
  const runs: StabilityRun[] = [];
  const t0 = performance.now();
  const out = arg('out', '');
  const command = `node --import tsx tools/study/stability-study.ts ${process.argv.slice(2).join(' ')}`;
  const save = () => {
    if (!out) return;
    const result: StabilityResults = {
      command,
      wallSeconds: (performance.now() - t0) / 1000,
      backend: tf.getBackend(),
      runs,
    };
    writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
  };
  // Seeds outermost, and the file rewritten after every setting: a study cut short keeps whole seeds.
  for (const seed of seeds)
    for (const task of tasks)
      for (const loop of loops)
        for (const lr of lrs) {
          const go = (ganpo: GanpoOptions | false) =>
            loop === 'hand'
              ? Promise.resolve(handRun(task, lr, seed, steps, evalEvery, ganpo))
              : trainerRun(task, lr, seed, steps, evalEvery, ganpo);
          const latent = task === 'tinylm' ? 16 : latentWidth;
          const base = {
            task,
            loop,
            lr,
            seed,
            latent,
            arm: 'base' as const,
            critic: null,
            ...(await go(false)),
          };
          runs.push(base);
          for (const critic of critics)
            for (const arm of loop === 'trainer' ? trainerArms : arms) {
              const r = { task, loop, lr, seed, latent, arm, critic, ...(await go(armOptions(critic, arm))) };
              runs.push(r);
              const ratios = r.drift.map((d, i) => d / (base.drift[i] as number));
              console.log(
                `${task} ${loop} lr ${lr} seed ${seed} ${critic} ${arm}: ${ratios.map((x, i) => `${r.steps[i]}:${x.toFixed(2)}`).join(' ')} | max ${Math.max(...ratios).toFixed(2)} (${r.seconds.toFixed(0)} s)`,
              );
            }
          save();
        }
}

/** Saved runs of one or more parts. */
export interface StabilityResults {
  command: string;
  wallSeconds: number;
  backend: string;
  runs: StabilityRun[];
}

if (process.argv[1]?.endsWith('stability-study.ts')) {
  const from = arg('from-json', '');
  if (from) {
    writeStabilityReport(
      from.split(',').map((f) => JSON.parse(readFileSync(f, 'utf8')) as StabilityResults),
      arg('report', 'results/stability'),
    );
  } else {
    await run();
  }
}
