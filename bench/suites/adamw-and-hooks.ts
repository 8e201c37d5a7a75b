// Two overheads of ganpo's building blocks, each as a ratio against a baseline measured in the same
// run and process:
// - AdamW step vs tfjs's own Adam step on the same variables (cost of name-keyed PyTorch semantics);
// - a training step whose latent comes from LayerOutputHook / LatentView vs a plain LM step, and vs
//   the same step with the latent recomputed by a second forward (what a user would do without hooks).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { relativisticGeneratorLoss } from '../../src/divergence/relativistic';
import { LatentView } from '../../src/hooks/latent-view';
import { LayerOutputHook } from '../../src/hooks/layer-output-hook';
import { AdamW } from '../../src/optim/adamw';
import { type BenchContext, type BenchRow, interleaved, type Timing, useBackend } from '../util';

async function optimizerRows(ctx: BenchContext, backend: string): Promise<BenchRow[]> {
  const shapes = [[512, 512], [512], [512, 2048], [2048], [2048, 512], [512]];
  const vars = shapes.map((s, i) => tf.variable(tf.randomNormal(s), true, `bench_adamw_v${i}_${backend}`));
  const grads: tf.NamedTensorMap = Object.fromEntries(vars.map((v) => [v.name, tf.randomNormal(v.shape)]));
  const adamw = new AdamW({ learningRate: 1e-4 });
  const adam = tf.train.adam(1e-4, 0.9, 0.999, 1e-8);
  const sync = (): void => {
    (vars[0] as tf.Variable).dataSync();
  };
  const [tAdam, tAdamW] = (await interleaved(
    [
      () => {
        adam.applyGradients(grads as Parameters<typeof adam.applyGradients>[0]);
        sync();
      },
      () => {
        adamw.applyGradients(grads);
        sync();
      },
    ],
    ctx.runs,
    ctx.warmup,
  )) as [Timing, Timing];
  adam.dispose();
  adamw.dispose();
  tf.dispose([...vars, ...Object.values(grads)]);
  const params = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const label = `${(params / 1e6).toFixed(2)}M params`;
  // PyTorch with 1 and 2 threads (both pools limited), the faster of the two.
  const torchRuns = [1, 2].map(
    (threads) =>
      ctx.python('tools/reference/bench_adamw.py', [String(ctx.runs), String(threads)]) as {
        median: number;
        threads: number;
      } | null,
  );
  const torch = torchRuns.reduce<{ median: number; threads: number } | null>(
    (best, r) => (r && (!best || r.median < best.median) ? r : best),
    null,
  );
  const extra: Record<string, string> = {
    'ratio vs tf.train.adam': (tAdamW.median / tAdam.median).toFixed(2),
  };
  if (torch) {
    extra['torch.optim.AdamW ms (best of 1 and 2 threads)'] =
      `${torch.median.toFixed(1)} (${torch.threads} thread${torch.threads > 1 ? 's' : ''})`;
    extra['ratio vs torch'] = (tAdamW.median / torch.median).toFixed(2);
  }
  return [
    { suite: 'adamw-and-hooks', name: `tf.train.adam step (${label})`, backend, timing: tAdam },
    {
      suite: 'adamw-and-hooks',
      name: `AdamW step (${label})`,
      backend,
      timing: tAdamW,
      extra,
    },
  ];
}

async function hookRows(ctx: BenchContext, backend: string): Promise<BenchRow[]> {
  const [B, T, V, H] = [8, 64, 256, 256];
  const input = tfl.input({ shape: [T, V] });
  const pre = tfl.layers.dense({ units: H, activation: 'relu' });
  const hidden = tfl.layers.dense({ units: H, activation: 'tanh' });
  const h = hidden.apply(pre.apply(input)) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: V }).apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: logits });
  const x = tf.tidy(() => tf.cast(tf.oneHot(tf.randomUniform([B, T], 0, V, 'int32'), V), 'float32'));
  const ref = tf.randomNormal([B, T, H]);
  const w = tf.randomNormal([H]);
  const varsList = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const critic = (z: tf.Tensor): tf.Tensor1D => tf.mean(tf.sum(tf.mul(z, w), -1), -1) as tf.Tensor1D;
  const lm = (l: tf.Tensor): tf.Tensor => tf.neg(tf.mean(tf.max(tf.logSoftmax(l), -1)));
  const latent = (z: tf.Tensor): tf.Tensor =>
    relativisticGeneratorLoss({ real: critic(ref), fake: critic(z) });
  // Installed for every variant so all pay its clone of [B,T,H] (~0.1 ms); only one variant reads it.
  const hook = new LayerOutputHook(hidden);
  const run = (f: () => tf.Scalar): void => {
    const { value, grads } = tf.variableGrads(f, varsList);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    hook.clear();
  };
  const view = new LatentView(model, hidden);
  const [plain, twoPass, hooked, viewed] = (await interleaved(
    [
      () => run(() => lm(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar),
      () =>
        run(() => {
          const l = model.apply(x, { training: true }) as tf.Tensor;
          const z = hidden.apply(pre.apply(x, { training: true }), { training: true }) as tf.Tensor;
          return tf.add(lm(l), latent(z)) as tf.Scalar;
        }),
      () =>
        run(
          () =>
            tf.add(
              lm(model.apply(x, { training: true }) as tf.Tensor),
              latent(hook.last as tf.Tensor),
            ) as tf.Scalar,
        ),
      () =>
        run(() => {
          const { outputs, latents } = view.apply(x);
          return tf.add(lm(outputs[0] as tf.Tensor), latent(latents[0] as tf.Tensor)) as tf.Scalar;
        }),
    ],
    ctx.runs,
    ctx.warmup,
  )) as [Timing, Timing, Timing, Timing];
  hook.remove();
  view.dispose();
  model.dispose();
  tf.dispose([x, ref, w]);
  const shape = `B${B} T${T} V${V} H${H}`;
  const r = (t: { median: number }): string => (t.median / plain.median).toFixed(2);
  return [
    { suite: 'adamw-and-hooks', name: `LM step fwd+bwd (${shape})`, backend, timing: plain },
    {
      suite: 'adamw-and-hooks',
      name: 'LM + latent loss, second forward for the latent',
      backend,
      timing: twoPass,
      extra: { 'ratio vs LM step': r(twoPass) },
    },
    {
      suite: 'adamw-and-hooks',
      name: 'LM + latent loss via LayerOutputHook',
      backend,
      timing: hooked,
      extra: { 'ratio vs LM step': r(hooked) },
    },
    {
      suite: 'adamw-and-hooks',
      name: 'LM + latent loss via LatentView',
      backend,
      timing: viewed,
      extra: { 'ratio vs LM step': r(viewed) },
    },
  ];
}

export default async (ctx: BenchContext): Promise<BenchRow[]> => {
  const rows: BenchRow[] = [];
  // The cpu backend is ~30× slower than wasm on these matMuls (tfjs 4.22) and nobody trains on it:
  // measuring it would take minutes and say nothing about the ratios.
  for (const backend of ctx.backends.filter((b) => b !== 'cpu')) {
    await useBackend(backend);
    rows.push(...(await optimizerRows(ctx, backend)));
    rows.push(...(await hookRows(ctx, backend)));
  }
  return rows;
};
