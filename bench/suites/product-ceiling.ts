// How fast one thread can multiply matrices here, in WebAssembly and in PyTorch: the ceiling behind
// the whole-step ratios (docs/benchmarks.md, "Product rate ceiling").
// - f32x4 multiply-add throughput with nothing but registers: 12 independent chains acc ← acc·x + y,
//   as a multiply then an add, and as relaxed SIMD's multiply-add when the engine has it (Node ≥ 22,
//   current browsers; Node 20 behind --experimental-wasm-relaxed-simd);
// - ganpo's GEMM module (./src/ops/wasm/matmul-simd.ts, B packed, one thread, called directly on a
//   memory of its own) on the products of the whole-step suite's policy and critic, as shipped and
//   built on relaxed SIMD's multiply-add, interleaved;
// - PyTorch's `a @ b` (OpenBLAS) on the same shapes with one thread (bench/python/sgemm_rate.py).
// GFLOP/s = 2·m·k·n (or 2 flops per lane per multiply-add) over the median time.

import {
  buildModule,
  type Code,
  FuncBuilder,
  f32x4,
  get,
  I32,
  i32,
  i32c,
  incBy,
  set,
  splat,
  V128,
  v128,
  whileLoop,
} from '../../src/ops/wasm/emit';
import { matMulSimdModule } from '../../src/ops/wasm/matmul-simd';
import { type BenchContext, type BenchRow, interleaved, type Timing } from '../util';

/** The whole-step suite's 4.9 M policy and critic products (B·T = 1 024 tokens per call). */
const SHAPES: [number, number, number][] = [
  [1024, 256, 768],
  [1024, 256, 256],
  [1024, 256, 1024],
  [1024, 1024, 256],
  [256, 1024, 768],
];
const CHAINS = 12;

/** run(n): n iterations of CHAINS independent multiply-adds on f32x4 registers; stores the sums. */
function registerLoop(fused: boolean): Uint8Array {
  const fn = new FuncBuilder('run', [I32]);
  const { k } = fn.named(I32, 'k');
  const acc = Array.from({ length: CHAINS }, () => fn.local(V128));
  const x = fn.local(V128);
  const y = fn.local(V128);
  const step = (a: number): Code =>
    set(a, fused ? f32x4.relaxedMadd(get(a), get(x), get(y)) : f32x4.add(f32x4.mul(get(a), get(x)), get(y)));
  const body: Code[] = [
    set(x, splat(0.999)),
    set(y, splat(0.001)),
    ...acc.map((a) => set(a, splat(1))),
    whileLoop(i32.ltS(get(k), get(0)), ...acc.map(step), incBy(k, 1)),
    // Stored so that the loop is not dead code.
    ...acc.map((a, q) => v128.store(i32c(16 * q), get(a))),
  ];
  return buildModule([{ fn, body }]);
}

const instantiate = (bytes: Uint8Array, memory: WebAssembly.Memory): WebAssembly.Exports | null => {
  if (!WebAssembly.validate(bytes as BufferSource)) return null;
  return new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), { env: { memory } }).exports;
};

const gflops = (flops: number, t: Timing): string => (flops / t.median / 1e6).toFixed(1);

export default async function productCeiling(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const runs = ctx.quick ? 3 : 10;
  const memory = new WebAssembly.Memory({ initial: 1024 });
  const relaxed = WebAssembly.validate(registerLoop(true) as BufferSource);
  const row = (name: string, t: Timing, extra: Record<string, string>): BenchRow => ({
    suite: 'product-ceiling',
    name,
    backend: 'wasm',
    timing: t,
    extra,
  });

  // 1. registers only
  {
    const iters = ctx.quick ? 2e6 : 2e7;
    const loops = [registerLoop(false), ...(relaxed ? [registerLoop(true)] : [])].map(
      (b) => (instantiate(b, memory) as { run: (n: number) => void }).run,
    );
    const t = await interleaved(
      loops.map((run) => () => run(iters)),
      runs,
      1,
    );
    const flops = iters * CHAINS * 8;
    const labels = ['f32x4 multiply then add', 'f32x4 relaxed multiply-add'];
    t.forEach((ti, i) => {
      rows.push(
        row(`registers only: ${labels[i]}`, ti, { chains: String(CHAINS), 'GFLOP/s': gflops(flops, ti) }),
      );
    });
  }

  // 2. ganpo's GEMM, as shipped and on relaxed multiply-add
  const f = new Float32Array(memory.buffer);
  for (let i = 0; i < f.length; i++) f[i] = Math.sin(i) * 0.5;
  const MB = 1 << 20;
  const [A, B, P, C] = [0, 16 * MB, 32 * MB, 48 * MB];
  type Gemm = {
    gemm: (...args: number[]) => void;
    pack: (b: number, p: number, k: number, n: number) => void;
  };
  const gemms = [false, ...(relaxed ? [true] : [])].map(
    (fma) => instantiate(matMulSimdModule('packedB', false, fma), memory) as unknown as Gemm,
  );
  const wasmRates: number[] = [];
  for (const [m, k, n] of SHAPES) {
    const t = await interleaved(
      gemms.map((e) => () => {
        e.pack(B, P, k, n);
        e.gemm(A, B, P, 0, C, m, k, n, k);
      }),
      ctx.quick ? 3 : 20,
      2,
    );
    const flops = 2 * m * k * n;
    wasmRates.push(flops / (t[0] as Timing).median / 1e6);
    const labels = ['ganpo GEMM (multiply then add)', 'ganpo GEMM on relaxed multiply-add'];
    t.forEach((ti, i) => {
      rows.push(
        row(`1 thread ${m}×${k}·${k}×${n}: ${labels[i]}`, ti, {
          'GFLOP/s': gflops(flops, ti),
          ...(i > 0 ? { 'vs shipped': `${(ti.median / (t[0] as Timing).median).toFixed(2)}×` } : {}),
        }),
      );
    });
  }
  if (!relaxed)
    rows.push({
      suite: 'product-ceiling',
      name: 'relaxed SIMD multiply-add: not available in this engine',
      backend: 'wasm',
    });

  // 3. PyTorch (OpenBLAS), one thread, same shapes
  const torch = ctx.python('bench/python/sgemm_rate.py', [
    JSON.stringify({ shapes: SHAPES, runs: ctx.quick ? 5 : 30, threads: 1 }),
  ]) as { torch: string; rates: { shape: number[]; ms: number; gflops: number }[] } | null;
  torch?.rates.forEach((r, i) => {
    const [m, k, n] = r.shape as [number, number, number];
    rows.push({
      suite: 'product-ceiling',
      name: `1 thread ${m}×${k}·${k}×${n}: PyTorch ${torch.torch} a @ b (OpenBLAS)`,
      backend: 'pytorch',
      extra: {
        'median ms': r.ms.toFixed(2),
        'GFLOP/s': r.gflops.toFixed(1),
        'vs ganpo GEMM': `${(r.gflops / (wasmRates[i] as number)).toFixed(2)}× the rate`,
      },
    });
  });
  return rows;
}
