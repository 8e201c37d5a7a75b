// The latent-drift experiment of drift-experiment.ts run through `GanpoTrainer` (its schedule,
// clipping, data order and critic optimizer) instead of a hand-written loop: the same tiny policy,
// data and held-out drift. Compares critic learning-rate rules of the trainer.
//
// node --import tsx tools/study/drift-trainer.ts [--seeds 0,1,2] [--objectives dpo,simpo]
//   [--critics mlp,transformer,transformer-w32] [--lr 5e-3] [--steps 80] [--ratios default,2] [--backend wasm]
//   [--schedule cosine|linear|constant] [--max-grad-norm 1|none]   (the trainer's defaults: cosine, 1)
//
// `--ratios`: `default` = the trainer's default critic learning rate, a number = an explicit
// `learningRateRatio`, `create` = the ratio that makes the critics peak at `GanpoRegularizer.create`'s
// own learning rate (5e-3 MLP, 2e-3 transformer) on the policy's schedule. Prints, per critic, objective and rule, drift(pref + GANPO) / drift(pref
// alone) paired by seed (mean ± sample sd), the critics' loss over the last 10 % of steps and its
// margin below log 2, the critics' accuracy, and the preference loss / reward accuracy there.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import {
  GanpoTrainer,
  type PreferencePair,
  type TrainerMetrics,
  type TrainerRegularizerOptions,
} from '../../src/index';
import { DRIFT_PROMPT_LENGTH, driftData, driftPolicy, lastHiddenDrift } from './drift-experiment';

const SMALL_TRANSFORMER = { hiddenDim: 32, numLayers: 1, numHeads: 2, ffnDim: 64, maxSeqLen: 16, dropout: 0 };

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};

/** One trainer run's measurements (tail = mean over the last 10 % of steps). */
export interface TrainerDriftResult {
  drift: number;
  criticLoss: number;
  criticAccuracy: number;
  preferenceLoss: number;
  rewardAccuracy: number;
  /** The critics' learning rate at the schedule's peak (NaN without GANPO). */
  criticPeak: number;
  ms: number;
}

/** Trains the seed's policy through the trainer and measures held-out drift. */
export async function runTrainerDrift(args: {
  seed: number;
  objective: 'dpo' | 'simpo';
  ganpo: Extract<TrainerRegularizerOptions, { kind?: 'ganpo' }> | false;
  learningRate: number;
  steps: number;
  schedule?: 'cosine' | 'linear' | 'constant';
  maxGradNorm?: number | null;
}): Promise<TrainerDriftResult> {
  const t0 = Date.now();
  const policy = driftPolicy(args.seed);
  const reference = policy.clone();
  const data = driftData(args.seed);
  const pairs: PreferencePair[] = data.chosen.map((c, i) => ({
    prompt: c.slice(0, DRIFT_PROMPT_LENGTH),
    chosen: c.slice(DRIFT_PROMPT_LENGTH),
    rejected: (data.rejected[i] as number[]).slice(DRIFT_PROMPT_LENGTH),
  }));
  const history: TrainerMetrics[] = [];
  let criticPeak = Number.NaN;
  const trainer = new GanpoTrainer({
    model: { policy, reference, latentDim: policy.config.dim },
    data: { collate: { padTokenId: 0, eosTokenId: null }, batchSize: 8 },
    training: {
      learningRate: args.learningRate,
      totalSteps: args.steps,
      seed: args.seed,
      ...(args.schedule === undefined ? {} : { schedule: args.schedule }),
      ...(args.maxGradNorm === undefined ? {} : { maxGradNorm: args.maxGradNorm }),
    },
    objective: args.objective === 'dpo' ? { kind: 'dpo', beta: 0.1 } : { kind: 'simpo' },
    regularizer: args.ganpo === false ? false : { seed: args.seed + 100, ...args.ganpo },
    logging: {
      onStep: (m) => {
        history.push(m);
        // The critic learning rate the step used, at the end of warm-up (the schedule's peak).
        if (m.step === Math.ceil(0.1 * args.steps) + 1 && trainer.regularizer)
          criticPeak = (trainer.regularizer.optimizer as unknown as { learningRate: number }).learningRate;
      },
    },
  });
  try {
    await trainer.train(pairs);
    const tail = history.slice(-Math.max(1, Math.ceil(args.steps / 10)));
    const mean = (f: (m: TrainerMetrics) => number | undefined) =>
      tail.reduce((s, m) => s + (f(m) ?? Number.NaN), 0) / tail.length;
    const lambda = trainer.regularizer?.weight ?? 0;
    return {
      drift: lastHiddenDrift(policy, reference, data.heldOut),
      criticLoss: mean(
        (m) =>
          ((m['ganpo/discriminator_loss_chosen'] ?? Number.NaN) +
            (m['ganpo/discriminator_loss_rejected'] ?? Number.NaN)) /
          2,
      ),
      criticAccuracy: mean(
        (m) =>
          ((m['ganpo/critic_accuracy_chosen'] ?? Number.NaN) +
            (m['ganpo/critic_accuracy_rejected'] ?? Number.NaN)) /
          2,
      ),
      preferenceLoss: mean((m) => m.loss - lambda * (m['ganpo/regularizer_loss'] ?? 0)),
      rewardAccuracy: mean((m) => m['rewards/accuracies']),
      criticPeak,
      ms: Date.now() - t0,
    };
  } finally {
    trainer.dispose();
    policy.model.dispose();
    reference.model.dispose();
  }
}

const stats = (xs: number[]): string => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
};

async function main(): Promise<void> {
  await tf.setBackend(arg('backend', 'wasm'));
  const seeds = arg('seeds', '0,1,2').split(',').map(Number);
  const objectives = arg('objectives', 'dpo,simpo').split(',') as ('dpo' | 'simpo')[];
  const critics = arg('critics', 'mlp,transformer').split(',');
  const ratios = arg('ratios', 'default,2').split(',');
  const learningRate = Number(arg('lr', '5e-3'));
  const steps = Number(arg('steps', '80'));
  const schedule = arg('schedule', 'cosine') as 'cosine' | 'linear' | 'constant';
  const clip = arg('max-grad-norm', '1');
  const maxGradNorm = clip === 'none' ? null : Number(clip);
  const run = { learningRate, steps, schedule, maxGradNorm };
  console.log(
    `trainer drift study on ${tf.getBackend()}: lr ${learningRate} (${schedule}, max grad norm ${clip}), ${steps} steps, seeds ${seeds}`,
  );
  for (const objective of objectives) {
    const base: number[] = [];
    const baseAcc: number[] = [];
    const baseLoss: number[] = [];
    for (const seed of seeds) {
      const r = await runTrainerDrift({ seed, objective, ganpo: false, ...run });
      base.push(r.drift);
      baseAcc.push(r.rewardAccuracy);
      baseLoss.push(r.preferenceLoss);
      console.log(`  ${objective} base seed ${seed}: drift ${r.drift.toFixed(4)} (${r.ms} ms)`);
    }
    console.log(
      `${objective} base: drift ${stats(base)}, pref loss ${stats(baseLoss)}, reward acc ${stats(baseAcc)}`,
    );
    for (const critic of critics) {
      for (const rule of ratios) {
        const ganpo: Extract<TrainerRegularizerOptions, { kind?: 'ganpo' }> = {
          critic:
            critic === 'mlp'
              ? { kind: 'mlp' }
              : {
                  kind: 'transformer',
                  // 'transformer-w32': the transformer defaults at width 32 (2 layers, dropout 0.1).
                  ...(critic === 'transformer-w32' ? { hiddenDim: 32 } : SMALL_TRANSFORMER),
                },
          ...(rule === 'default'
            ? {}
            : {
                criticLearningRateRatio:
                  rule === 'create' ? (critic === 'mlp' ? 5e-3 : 2e-3) / learningRate : Number(rule),
              }),
        };
        const rows: TrainerDriftResult[] = [];
        for (const [i, seed] of seeds.entries()) {
          const r = await runTrainerDrift({ seed, objective, ganpo, ...run });
          rows.push(r);
          console.log(
            `  ${objective} ${critic} ${rule} seed ${seed}: critic peak lr ${r.criticPeak.toExponential(1)}, drift ratio ${(r.drift / (base[i] as number)).toFixed(3)}, critic loss ${r.criticLoss.toFixed(4)}, critic acc ${r.criticAccuracy.toFixed(3)}, pref loss ${r.preferenceLoss.toFixed(4)}, reward acc ${r.rewardAccuracy.toFixed(3)} (${r.ms} ms)`,
          );
        }
        console.log(
          `${objective} ${critic} ${rule}: drift ratio ${stats(rows.map((r, i) => r.drift / (base[i] as number)))}, critic margin below log 2 ${stats(rows.map((r) => Math.log(2) - r.criticLoss))}, critic acc ${stats(rows.map((r) => r.criticAccuracy))}, pref loss ${stats(rows.map((r) => r.preferenceLoss))} (Δ vs base ${stats(rows.map((r, i) => r.preferenceLoss - (baseLoss[i] as number)))}), reward acc ${stats(rows.map((r) => r.rewardAccuracy))}`,
        );
      }
    }
  }
}

if (process.argv[1]?.endsWith('drift-trainer.ts')) await main();
