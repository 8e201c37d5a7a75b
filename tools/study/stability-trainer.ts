// The tiny policy of tools/study/tiny-policy.ts trained through `GanpoTrainer` (warm-up + cosine
// schedule, clipping, shuffled batches, the trainer's critic optimizer), measured on held-out pairs
// every `evalEvery` steps, with the trainer's per-step GANPO metrics kept.
import type { PreferencePair, TrainerGanpoOptions, TrainerMetrics } from '../../src/index';
import { GanpoTrainer } from '../../src/index';
import { evaluateTiny, TINY_TASK, type TinyEval, TinyPolicy, type TinyTask, tinyPairs } from './tiny-policy';

export interface TrainerRunConfig {
  seed: number;
  steps: number;
  lr?: number;
  batch?: number;
  beta?: number;
  evalEvery?: number;
  ganpo: TrainerGanpoOptions | false;
  schedule?: 'cosine' | 'linear' | 'constant';
  /** Training pairs (drawn once, shuffled by the trainer's sampler); default steps × batch (one epoch). */
  trainPairs?: number;
  task?: TinyTask;
}

export interface TrainerRunResult {
  config: TrainerRunConfig;
  evals: (TinyEval & { step: number })[];
  history: TrainerMetrics[];
  seconds: number;
}

export async function runTrainer(config: TrainerRunConfig): Promise<TrainerRunResult> {
  const t0 = performance.now();
  const task = config.task ?? TINY_TASK;
  const B = config.batch ?? 8;
  const beta = config.beta ?? 0.1;
  const evalEvery = config.evalEvery ?? 40;
  const policy = new TinyPolicy(task, 1000 + config.seed);
  const reference = policy.clone();
  const train: PreferencePair[] = tinyPairs(task, 7919 * config.seed + 1, config.trainPairs ?? config.steps * B);
  const heldOut = tinyPairs(task, 7919 * config.seed + 2, 256);
  const history: TrainerMetrics[] = [];
  const trainer = new GanpoTrainer({
    policy,
    reference,
    hiddenSize: task.latent,
    objective: { kind: 'dpo', beta },
    ganpo: config.ganpo === false ? false : { seed: 100 + config.seed, ...config.ganpo },
    collate: { padTokenId: 0, eosTokenId: null },
    learningRate: config.lr ?? 5e-3,
    batchSize: B,
    totalSteps: config.steps,
    ...(config.schedule ? { schedule: config.schedule } : {}),
    seed: config.seed,
    log: null,
    onStep: (m) => history.push(m),
  });
  const evals: TrainerRunResult['evals'] = [{ step: 0, ...evaluateTiny(policy, reference, heldOut, beta) }];
  try {
    for (let done = 0; done < config.steps; done += evalEvery) {
      await trainer.train(train, { steps: evalEvery });
      evals.push({ step: Math.min(done + evalEvery, config.steps), ...evaluateTiny(policy, reference, heldOut, beta) });
    }
  } finally {
    trainer.dispose();
    policy.dispose();
    reference.dispose();
  }
  return { config, evals, history, seconds: (performance.now() - t0) / 1000 };
}
