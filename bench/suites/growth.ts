// How a GanpoTrainer step on wasm grows with the policy: step time and peak memory against sequence
// length T, width, depth and batch, one axis at a time around a GPT of d 128, 4 layers, 8 heads, T 128,
// B 4 pairs (small enough that the sweep fits in a CI-sized time budget on 2 cores), plus the
// whole-step suite's 4.9 M-parameter GPT (d 256, 6 layers, T 128, B 8) as a check of the fit. DPO, and
// DPO + GANPO with a transformer critic as wide as the policy (2 layers, 8 heads, FFN 4·d). Each point
// runs in a fresh process (bench/whole-step/child.ts): its first step, the median of the next ones,
// the peak wasm heap (a wasm32 heap, so a browser tab's ceiling, is 4 GB), the peak of tfjs's tensor
// bytes and the process's peak resident memory. bench/report-growth.ts fits memory to the policy's
// size and renders the table, the plots and the largest policy within 4 GB and 24 GB.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchContext, type BenchRow, StepServer, summarize } from '../util';
import {
  policyParameters,
  SIZES,
  type Variant,
  type WholeStepConfig,
  type WholeStepShape,
} from '../whole-step/config';

const child = join(dirname(fileURLToPath(import.meta.url)), '..', 'whole-step', 'child.ts');

/** One point of the growth table: which axis it varies and the shape. */
export interface GrowthPoint {
  axis: 'T' | 'width' | 'depth' | 'batch' | 'probe';
  shape: WholeStepShape;
}

/** The sweeps' base: the 4.9 M GPT's shape at half its width, two thirds of its depth, half its batch. */
export const GROWTH_BASE = { dim: 128, layers: 4, T: 128, B: 4 } as const;
const BASE = { ...SIZES['5M'], ...GROWTH_BASE };

/** The base shape with one axis changed; the critic follows the policy's width and T. */
export function growthShape(
  change: Partial<Pick<WholeStepShape, 'T' | 'dim' | 'layers' | 'B'>>,
): WholeStepShape {
  const dim = change.dim ?? BASE.dim;
  const T = change.T ?? BASE.T;
  return {
    ...BASE,
    ...change,
    dim,
    T,
    maxSeqLen: T,
    prompt: Math.floor(T / 4),
    ffn: 4 * dim,
    transformerCritic: { hidden: dim, layers: 2, heads: 8, ffn: 4 * dim, maxSeqLen: T, dropout: 0.1 },
  };
}

/** The points of a run: every axis (full), or two small ones (quick, CI's smoke run). */
export function growthPoints(quick: boolean): GrowthPoint[] {
  if (quick) {
    return [
      { axis: 'T', shape: growthShape({ T: 64, dim: 64, layers: 2, B: 2 }) },
      { axis: 'T', shape: growthShape({ T: 128, dim: 64, layers: 2, B: 2 }) },
    ];
  }
  return [
    ...[64, 128, 256, 512, 1024].map((T) => ({ axis: 'T' as const, shape: growthShape({ T }) })),
    ...[64, 256, 512].map((dim) => ({ axis: 'width' as const, shape: growthShape({ dim }) })),
    ...[2, 8].map((layers) => ({ axis: 'depth' as const, shape: growthShape({ layers }) })),
    ...[2, 8, 16].map((B) => ({ axis: 'batch' as const, shape: growthShape({ B }) })),
    // The whole-step suite's 4.9 M-parameter GPT: a point off the axes that the memory fit must predict.
    { axis: 'probe' as const, shape: growthShape({ dim: 256, layers: 6, B: 8 }) },
  ];
}

const VARIANTS: Variant[] = ['dpo', 'transformer'];

/** Runs one point in a fresh process: first step, `runs` more, then its memory figures. */
async function measurePoint(config: WholeStepConfig, runs: number) {
  const server = await StepServer.node(child, [JSON.stringify(config)]);
  try {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) samples.push(await server.step());
    return { timing: summarize(samples), info: server.info, stats: await server.stats() };
  } finally {
    await server.close();
  }
}

export default async function growth(ctx: BenchContext): Promise<BenchRow[]> {
  if (!ctx.backends.includes('wasm')) return [];
  const rows: BenchRow[] = [];
  for (const { axis, shape } of growthPoints(ctx.quick)) {
    for (const variant of VARIANTS) {
      const label = `${variant === 'dpo' ? 'DPO' : 'GANPO (transformer critic)'}: d${shape.dim} L${shape.layers} T${shape.T} B${shape.B}`;
      const point = {
        axis,
        variant,
        dim: shape.dim,
        layers: shape.layers,
        T: shape.T,
        B: shape.B,
        'policy params': policyParameters(shape),
      };
      try {
        const m = await measurePoint({ ...shape, variant }, ctx.quick ? 1 : 2);
        rows.push({
          suite: 'growth',
          name: label,
          backend: 'wasm',
          timing: m.timing,
          extra: {
            ...point,
            'first step ms': Math.round(Number(m.info.firstStepMs)),
            'wasm heap MB': Math.round(Number(m.stats.wasmHeapMB)),
            'tensor peak MB': Math.round(Number(m.stats.tensorPeakMB)),
            'peak RSS MB': Math.round(Number(m.stats.peakRssMB)),
          },
        });
      } catch (e) {
        // A point beyond the wasm heap's 4 GB fails to allocate: that is the measurement.
        const failed =
          String(e instanceof Error ? e.message : e)
            .split('\n')[0]
            ?.slice(0, 160) ?? 'failed';
        rows.push({ suite: 'growth', name: label, backend: 'wasm', extra: { ...point, failed } });
      }
      console.log(`growth | ${label} | ${JSON.stringify(rows.at(-1)?.extra)}`);
    }
  }
  return rows;
}
