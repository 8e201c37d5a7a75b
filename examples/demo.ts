// `npm run demo`: the main job. Until the GanpoTrainer and the end-to-end experiment land (see
// CHANGELOG), it runs stage 1 of that experiment: supervised fine-tuning of the tiny char-level LM on
// the digit-string task, then a judged evaluation of sampled answers on held-out and shifted prompts.
//
//   npm run demo -- [--quick] [--backend wasm|cpu|tensorflow] [--seed N] [--steps N]
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { CharTokenizer } from '../src/index';
import {
  encodePairs,
  encodePrompts,
  judge,
  makeTaskSplits,
  TASK_ALPHABET,
  type TextPair,
} from './task/index';
import { sftTrain, TinyLM } from './tiny-lm/index';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const backend = arg('backend') ?? 'wasm';
  if (backend === 'tensorflow') await import('@tensorflow/tfjs-node' as string);
  if (!(await tf.setBackend(backend))) throw new Error(`cannot initialise backend '${backend}'`);
  await tf.ready();
  const seed = Number(arg('seed') ?? 1);
  const steps = Number(arg('steps') ?? (quick ? 80 : 400));
  const evalSize = quick ? 60 : 200;

  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const splits = makeTaskSplits({ seed, trainSize: 2000, testSize: evalSize, shiftedSize: evalSize });
  const lm = new TinyLM({
    vocabSize: tok.vocabSize,
    maxSeqLen: 32,
    dim: 64,
    numLayers: 2,
    numHeads: 4,
    seed,
  });
  console.log(
    `backend ${tf.getBackend()}  tiny LM ${lm.parameterCount} parameters  SFT ${steps} steps  seed ${seed}`,
  );

  const start = performance.now();
  sftTrain({
    lm,
    pairs: encodePairs(tok, splits.train),
    collate: { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 32 },
    steps,
    batchSize: 32,
    learningRate: 2e-3,
    seed,
    onStep: ({ step, loss }) => {
      if (step % 10 === 9 || step === steps - 1) {
        const rate = (step + 1) / ((performance.now() - start) / 1000);
        const done = Math.round((20 * (step + 1)) / steps);
        process.stdout.write(
          `\rSFT [${'#'.repeat(done)}${'.'.repeat(20 - done)}] ${step + 1}/${steps}  loss ${loss.toFixed(3)}  ${rate.toFixed(1)} steps/s`,
        );
      }
    },
  });
  process.stdout.write('\n');

  const evaluate = (pairs: TextPair[], temperature: number) => {
    const prompts = pairs.map((p) => p.prompt);
    const answers = lm.generate(encodePrompts(tok, prompts), {
      maxNewTokens: 12,
      temperature,
      eosTokenId: tok.eosId,
      seed: seed + 7,
    });
    const judged = prompts.map((p, i) => judge(p, tok.decode(answers[i] as number[])));
    return {
      exact: judged.filter((j) => j.correct).length / judged.length,
      score: judged.reduce((s, j) => s + j.score, 0) / judged.length,
    };
  };
  console.log('\n| split | temperature | exact match | judge score |\n|---|---|---|---|');
  for (const [name, pairs] of [
    ['held-out', splits.test],
    ['shifted (longer)', splits.shifted],
  ] as const) {
    for (const t of [0.7, 1.0, 1.5]) {
      const r = evaluate(pairs, t);
      console.log(`| ${name} | ${t.toFixed(1)} | ${(100 * r.exact).toFixed(1)} % | ${r.score.toFixed(3)} |`);
    }
  }
  console.log(`\nwall time ${((performance.now() - start) / 1000).toFixed(1)} s`);
  lm.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
