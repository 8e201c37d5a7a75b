// Long-run stability of latent regularizers on the tiny policy (tools/study/tiny-policy.ts):
//   node --import tsx tools/study/stability.ts --arms 'name=json;...' [--seeds 1,2,3] [--steps 400]
//     [--lr 5e-3] [--eval-every 40] [--out file.json] [--trace]
// Each arm is a LoopConfig fragment (JSON); DPO alone runs first per seed and every arm's held-out
// drift is divided by it at each evaluation point (same seed, same pairs).
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { setValidationLevel } from '../../src/index';
import { type LoopConfig, type LoopResult, runLoop } from './stability-loop';
import { TINY_TASK } from './tiny-policy';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const seeds = arg('seeds', '1,2,3').split(',').map(Number);
const steps = Number(arg('steps', '400'));
const lr = Number(arg('lr', '5e-3'));
const evalEvery = Number(arg('eval-every', '40'));
const trace = process.argv.includes('--trace');
const traceEvery = Number(arg('trace-every', '10'));
const signal = Number(arg('signal', '0.3'));
const embeddingInit = Number(arg('init', '0.3'));
const trainPairs = arg('train-pairs', '') ? Number(arg('train-pairs', '')) : undefined;
const task = { ...TINY_TASK, signal, embeddingInit, latent: Number(arg('latent', String(TINY_TASK.latent))) };
const common = { task, trainPairs };
const arms: [string, Partial<LoopConfig>][] = arg('arms', '')
  .split(';')
  .filter(Boolean)
  .map((a) => {
    const i = a.indexOf('=');
    return [a.slice(0, i), JSON.parse(a.slice(i + 1)) as Partial<LoopConfig>];
  });

await tf.setBackend(arg('backend', 'wasm'));
await tf.ready();
setValidationLevel('shapes');
const all: Record<string, LoopResult[]> = {};
const record = (name: string, r: LoopResult) => {
  all[name] = [...(all[name] ?? []), r];
};
const f2 = (x: number) => x.toFixed(2);
for (const seed of seeds) {
  const base = runLoop({ ...common, seed, steps, lr, evalEvery, penalty: 'none', instrument: false });
  record('dpo', base);
  console.log(
    `seed ${seed} DPO alone: drift ${base.evals.map((e) => `${e.step}:${e.drift.toFixed(3)}`).join(' ')} acc ${f2(base.evals.at(-1)?.accuracy ?? Number.NaN)} (${base.seconds.toFixed(0)} s)`,
  );
  for (const [name, arm] of arms) {
    const res = runLoop({
      ...common,
      seed,
      steps,
      lr,
      evalEvery,
      penalty: 'ganpo',
      instrument: trace,
      ...arm,
    });
    record(name, res);
    const ratios = res.evals.slice(1).map((e, i) => e.drift / (base.evals[i + 1]?.drift ?? Number.NaN));
    const last = res.evals.at(-1);
    console.log(
      `seed ${seed} ${name}: ratio ${ratios.map((x, i) => `${res.evals[i + 1]?.step}:${f2(x)}`).join(' ')} | max ${f2(Math.max(...ratios))} | acc ${f2(last?.accuracy ?? Number.NaN)} good ${f2(last?.goodMass ?? Number.NaN)} bad ${(last?.badMass ?? Number.NaN).toFixed(3)} kl ${f2(last?.kl ?? Number.NaN)} (${res.seconds.toFixed(0)} s)`,
    );
    if (trace) {
      for (const r of res.records.filter((x) => x.step % traceEvery === 0)) {
        console.log(
          `  ${r.step} D ${r.criticLoss.map((x) => x.toFixed(3)).join('/')} skip ${r.skipped.map(Number).join('')} |f| ${r.featureNorm.toFixed(2)} gap ${r.featureGap.toFixed(3)} w ${r.criticWeightNorm.toFixed(0)} G ${r.generatorLoss.toFixed(4)} dpo ${r.dpoLoss.toFixed(3)} ‖g_dpo‖ ${r.gradDpo.toExponential(2)} ‖g_pen‖ ${r.gradPenalty.toExponential(2)} cos ${r.gradCos.toFixed(2)} restore ${r.penaltyRestoring.toFixed(2)} upd ${r.updateSize.toFixed(2)} drift ${r.batchDrift.toFixed(3)}`,
        );
      }
    }
  }
}
const out = arg('out', '');
if (out) writeFileSync(out, JSON.stringify(all));
