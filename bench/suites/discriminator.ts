// One TransformerDiscriminator training step (forward in training mode, backward, optimizer update) at
// B 8, T 128, d_in 512, hidden 256, 2 layers, 8 heads, masked. Next to it, the same
// step in PyTorch CPU (bench/python/discriminator_step.py, torch.optim.AdamW) with 2 threads and with
// 1 thread (torch's and OpenBLAS's pools both limited, OpenMP waiting passively), each in its own
// persistent python process, timed round-robin with ours (ours, torch 2t, torch 1t, ours, …) so that
// load from other processes hits all three alike; ratios are per round, against the thread count
// with the lower median (the fair baseline). On wasm, ganpo with 2 threads (initWasmThreads and its
// kernel pool, a process of its own: bench/wasm-threads-child.ts serve) joins the round, and the
// headline ratio compares each side's faster mode.
// The optimizer is ganpo's AdamW (lr 1e-4, weight decay 0.01: PyTorch's settings in the script).
// Also: achieved matMul GFLOP/s of the step next to the backend's best 2-D matMul GFLOP/s, peak
// tensor memory, and (full run, wasm) the step with each of ganpo's wasm kernels switched off, alone
// and all together, interleaved with the main step: what each lever buys.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { TransformerDiscriminator } from '../../src/discriminators/transformer';
import type { AttentionImpl } from '../../src/ops/attention';
import { withConstantInputs } from '../../src/ops/fast-linear';
import { kernelFlags } from '../../src/ops/kernel-flags';
import { withSharedClones } from '../../src/ops/wasm/shared-clone';
import { AdamW } from '../../src/optim/adamw';
import {
  type BenchContext,
  type BenchRow,
  bestMatMulGflops,
  interleavedAsync,
  peakMemory,
  ratioStats,
  StepServer,
  type Timing,
  useBackend,
} from '../util';

const threadsChild = join(dirname(fileURLToPath(import.meta.url)), '..', 'wasm-threads-child.ts');

const B = 8;
const T = 128;
const D = 512;
const H = 256;
const LAYERS = 2;
const FFN = 4 * H;

/**
 * matMul FLOPs of one training step (forward + backward; element-wise work, softmax, LayerNorm and
 * the spectral-norm power iterations not counted). Backward = 2× forward, less the input gradient
 * of the first projection (the latents are constants).
 */
export function discriminatorStepFlops(): number {
  const n = B * T;
  const projIn = 2 * n * D * H;
  const layer = 2 * n * H * 3 * H + 2 * (2 * B * T * T * H) + 2 * n * H * H + 2 * (2 * n * H * FFN);
  const head = 2 * B * H * H + 2 * B * H;
  const fwd = projIn + LAYERS * layer + head;
  return 3 * fwd - projIn;
}

export function makeStep(attention: AttentionImpl): { step: () => void; dispose: () => void } {
  const d = new TransformerDiscriminator({
    latentDim: D,
    hiddenDim: H,
    numLayers: LAYERS,
    numHeads: 8,
    ffnDim: FFN,
    seed: 0,
    attentionImpl: attention,
  });
  const opt = new AdamW({ learningRate: 1e-4, weightDecay: 0.01 });
  const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 1) as tf.Tensor3D;
  const lengths = Array.from({ length: B }, (_, i) => T / 2 + Math.floor(((i * 37) % 64) + 1));
  const mask = tf.tensor2d(
    lengths.flatMap((len) => Array.from({ length: T }, (_, t) => (t < len ? 1 : 0))),
    [B, T],
  );
  const vars = d.trainableVariables;
  // As GANPO's discriminator update runs it: the latents are constants (the first layer skips its
  // input gradient, as PyTorch's autograd does for an input without requires_grad) and, on wasm,
  // the tensors saved for the backward pass share their buffers.
  const step = (): void =>
    withSharedClones(() =>
      withConstantInputs(() => {
        const loss = opt.minimize(
          () => tf.mean(tf.softplus(tf.neg(d.apply(x, { mask, training: true })))) as tf.Scalar,
          true,
          vars,
        );
        loss?.dataSync();
        loss?.dispose();
      }),
    );
  return {
    step,
    dispose: () => {
      tf.dispose([x, mask]);
      opt.dispose();
      d.dispose();
    },
  };
}

type Flags = Partial<Record<keyof typeof kernelFlags, boolean>>;

// The library's defaults.
const DEFAULT_FLAGS = { ...kernelFlags };

function setFlags(flags: Flags): void {
  for (const k of Object.keys(kernelFlags) as (keyof typeof kernelFlags)[]) {
    kernelFlags[k] = flags[k] ?? DEFAULT_FLAGS[k];
  }
}

interface Variant {
  name: string;
  flags: Flags;
  attention: AttentionImpl;
}

const MAIN: Variant = { name: 'train step (ganpo kernels)', flags: {}, attention: 'auto' };
// Each lever of the wasm kernels switched off alone, and all of them (the step before them), each
// interleaved with the main step. Earlier levers (hand-written Linear/LayerNorm/GELU gradients vs
// tfjs autodiff, per-head vs batched attention) were measured by the same suite before and are
// quoted in the history of docs/benchmarks.md.
const WASM_VARIANTS: Variant[] = [
  {
    name: 'before the wasm kernels (per-head tfjs attention, tfjs-op GELU, LayerNorm, AdamW and spectral norm, ones·x row sums, JS dropout masks, copied saves, input gradient computed, tfjs Transpose, XNNPACK for every matMul)',
    flags: {
      wasmMatMul: false,
      sharedClones: false,
      constantInputs: false,
      wasmTranspose: false,
      wasmGelu: false,
      wasmSumRows: false,
      wasmLayerNorm: false,
      wasmAdamW: false,
      wasmPowerIteration: false,
      wasmSpectralScale: false,
      offTapeConstants: false,
      wasmDropoutMask: false,
    },
    attention: 'per-head',
  },
  {
    name: 'step-overhead levers off: tfjs-op AdamW and spectral norm (power iteration, K/σ) recorded on the tape',
    flags: { wasmAdamW: false, wasmPowerIteration: false, wasmSpectralScale: false, offTapeConstants: false },
    attention: 'auto',
  },
  {
    name: 'lever off: dropout masks drawn in JS instead of the wasm mask kernel',
    flags: { wasmDropoutMask: false },
    attention: 'auto',
  },
  {
    name: 'lever off: tfjs-op AdamW instead of the wasm AdamW kernel',
    flags: { wasmAdamW: false },
    attention: 'auto',
  },
  {
    name: 'lever off: tfjs-op spectral norm instead of the wasm power-iteration and K/σ kernels',
    flags: { wasmPowerIteration: false, wasmSpectralScale: false },
    attention: 'auto',
  },
  {
    name: 'lever off: per-head tfjs attention instead of the fused kernel',
    flags: {},
    attention: 'per-head',
  },
  {
    name: 'lever off: tfjs-op GELU instead of the wasm GELU kernel',
    flags: { wasmGelu: false },
    attention: 'auto',
  },
  {
    name: 'lever off: tfjs-op LayerNorm instead of the wasm LayerNorm kernel',
    flags: { wasmLayerNorm: false },
    attention: 'auto',
  },
  {
    name: 'lever off: ones·x row sums instead of the wasm sumRows kernel',
    flags: { wasmSumRows: false },
    attention: 'auto',
  },
  {
    name: "lever off: tfjs's Transpose instead of the wasm transpose kernel in the linear gradients",
    flags: { wasmTranspose: false },
    attention: 'auto',
  },
  {
    name: "lever off: the first layer's input gradient computed (and dropped) instead of skipped",
    flags: { constantInputs: false },
    attention: 'auto',
  },
  {
    name: "lever off: XNNPACK instead of ganpo's SIMD GEMM for the linear layers' products",
    flags: { wasmMatMul: false },
    attention: 'auto',
  },
  {
    name: 'lever off: tensors saved for the backward pass copied (tfjs-backend-wasm Identity) instead of shared',
    flags: { sharedClones: false },
    attention: 'auto',
  },
];
// The step's own matMul shapes (tokens × in · in × out).
const MATMUL_SHAPES: [number, number, number][] = [
  [B * T, D, H],
  [B * T, H, 3 * H],
  [B * T, H, FFN],
  [B * T, FFN, H],
];

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const script = 'bench/python/discriminator_step.py';
  const torch2 = await ctx.pythonServer(script, ['serve', '2']);
  const torch1 = torch2 ? await ctx.pythonServer(script, ['serve', '1']) : null;
  const flops = discriminatorStepFlops();
  const shape = `B${B} T${T} d_in ${D} h${H}, ${LAYERS} layers, 8 heads, masked`;
  try {
    for (const backend of ctx.backends) {
      await useBackend(backend);
      const slow = backend === 'cpu';
      // cpu is ~20× slower than wasm: fewer rounds keep the suite short (ratios still same-run).
      const runs = slow ? Math.min(ctx.runs, ctx.quick ? 2 : 3) : ctx.runs;
      const warmup = 1;
      setFlags(MAIN.flags);
      const main = makeStep(MAIN.attention);
      const fns: (() => unknown)[] = [main.step];
      if (torch2) fns.push(() => torch2.step());
      if (torch1) fns.push(() => torch1.step());
      // ganpo with 2 threads (initWasmThreads and its kernel pool) needs a process of its own.
      const threaded = backend === 'wasm' && torch1 ? await StepServer.node(threadsChild, ['serve']) : null;
      if (threaded) fns.push(() => threaded.step());
      const cpu0 = process.cpuUsage();
      const { timings, samples } = await interleavedAsync(fns, runs, warmup);
      const cpu = process.cpuUsage(cpu0);
      const mem = await peakMemory(main.step);
      main.dispose();
      const ours = timings[0] as (typeof timings)[0];
      const best = await bestMatMulGflops(MATMUL_SHAPES, slow ? 2 : ctx.quick ? 5 : 10);
      const achieved = flops / (ours.median * 1e6);
      const extra: Record<string, string> = {
        'GFLOP/s (matMul)': achieved.toFixed(1),
        'best 2-D matMul GFLOP/s': `${best.gflops.toFixed(1)} (${best.shape})`,
        'share of best': `${((100 * achieved) / best.gflops).toFixed(0)}%`,
        'peak MB': mem.peakMB,
        'working set MB': mem.workingSetMB,
      };
      if (!slow) {
        // Process CPU time of the whole round (all of ours, warm-up included; torch is another process).
        extra['tfjs CPU ms/step'] = ((cpu.user + cpu.system) / 1000 / (runs + warmup)).toFixed(0);
      }
      const vsTorch = (i: number): string => {
        const r = ratioStats(samples[0] as number[], samples[i] as number[]);
        return `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)}`;
      };
      await threaded?.close();
      if (torch2 && torch1) {
        const best = (timings[1] as Timing).median <= (timings[2] as Timing).median ? 1 : 2;
        const torchThreads = best === 1 ? 2 : 1;
        if (threaded) {
          // Each side's faster mode, as in the whole-step suite.
          const ours = (timings[3] as Timing).median < (timings[0] as Timing).median ? 3 : 0;
          const r = ratioStats(samples[ours] as number[], samples[best] as number[]);
          extra['ganpo 2 threads ms'] = (timings[3] as Timing).median.toFixed(0);
          extra['vs PyTorch, best of 1 and 2 threads'] =
            `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)} (threads ganpo/PyTorch: ${ours === 3 ? 2 : 1}/${torchThreads})`;
        } else {
          extra['vs PyTorch, best of 1 and 2 threads'] =
            `${vsTorch(best)} (${torchThreads} thread${torchThreads > 1 ? 's' : ''})`;
        }
      }
      if (torch2) extra['vs PyTorch 2 threads'] = vsTorch(1);
      if (torch1) extra['vs PyTorch 1 thread'] = vsTorch(2);
      rows.push({ suite: 'discriminator', name: `${MAIN.name} (${shape})`, backend, timing: ours, extra });
      const torchRow = (i: number, threads: number): void => {
        const t = timings[i];
        if (!t) return;
        rows.push({
          suite: 'discriminator',
          name: `train step (PyTorch ${String(torch2?.info.torch)} CPU, AdamW, ${threads} thread${threads > 1 ? 's' : ''}; interleaved with ${backend})`,
          backend: 'torch',
          timing: t,
        });
      };
      torchRow(1, 2);
      torchRow(2, 1);

      // What each kernel choice buys (wasm, full run): each variant against the main step, interleaved.
      if (backend === 'wasm' && !ctx.quick) {
        for (const v of WASM_VARIANTS) {
          const a = makeStep(MAIN.attention);
          const b = makeStep(v.attention);
          const { timings: tv, samples: sv } = await interleavedAsync(
            [
              () => {
                setFlags(MAIN.flags);
                a.step();
              },
              () => {
                setFlags(v.flags);
                b.step();
              },
            ],
            Math.min(ctx.runs, 5),
            1,
          );
          setFlags({});
          a.dispose();
          b.dispose();
          const r = ratioStats(sv[1] as number[], sv[0] as number[]);
          rows.push({
            suite: 'discriminator',
            name: v.name,
            backend,
            timing: tv[1],
            extra: { 'vs main step (this / main)': `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)}` },
          });
        }
      }
    }
  } finally {
    setFlags({});
    await torch2?.close();
    await torch1?.close();
  }
  return rows;
}
