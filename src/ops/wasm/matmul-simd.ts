/**
 * WebAssembly SIMD product of row-major float32 matrices, C[M, N] = A·B (+ bias), for the linear
 * layers of ganpo's networks. XNNPACK (tfjs-backend-wasm's 2-D matMul) packs B afresh on every call
 * (the operands of a training step are fresh tensors), which dominates at a few hundred rows; this
 * kernel reads small B in place, and copies a larger B's 8-column groups into consecutive panels first
 * (`pack`: walking B itself, each k is a new row N floats on, at N = 1 024 every row 4 KB apart).
 *
 * Register tiles of 4 rows × 8 columns (8 f32x4 accumulators), one B row of the tile loaded per k and
 * each A value broadcast with `v128.load32_splat`; the last N mod 8 columns as one 4-column tile and
 * then single columns (read from B in place), the last M mod 4 rows one at a time. Every output is
 * ((0 + a₀b₀) + a₁b₁) + … in k order, a product then a sum per step (no fused multiply-add), which
 * is the order XNNPACK's f32 GEMM micro-kernels accumulate in: the results are the same floats as
 * tfjs's `matMul` on wasm (checked bit for bit in the tests). The bias, when given, is added once to
 * the finished sum, as `tf.add(tf.matMul(a, b), bias)` would.
 *
 * The transposed-A variant takes A as At [K, M] (the dK = xᵀ·dy of a linear layer's backward pass,
 * without materialising xᵀ): the four rows of a tile are then four neighbouring floats of one At row.
 */
import {
  buildModule,
  type Code,
  F32,
  FuncBuilder,
  f32,
  f32c,
  f32x4,
  get,
  I32,
  i32,
  i32c,
  ifThen,
  pointers,
  set,
  V128,
  v128,
  whileLoop,
} from './emit';

/** Rows per register tile. */
const MR = 4;
/** f32x4 column groups per register tile (8 columns). */
const NV = 2;

function gemm(name: string, transposedA: boolean, packedB: boolean, fusedMultiplyAdd = false) {
  // params: a (A [M, K], or At [K, M] when transposedA), b [K, N], panels (./pack's copy of b's
  // full 8-column groups, read instead of b by the 4 × 8 tiles when packedB), bias [N] or 0,
  // c [M, N], M, K, N, lda (A's row stride in floats: K for A; for At its full width, so that a
  // block of C's rows can be computed on its own from At's matching columns)
  const fn = new FuncBuilder(name, pointers(9));
  const [A, B, P, BIAS, C, M, K, N, LDA] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const { i, j, k, m4, nt, n4, rowBytes, aStep, pb, pc } = fn.named(
    I32,
    'i j k m4 nt n4 rowBytes aStep pb pc',
  );
  const pa = Array.from({ length: MR }, () => fn.local(I32));
  const acc = Array.from({ length: MR * NV }, () => fn.local(V128));
  const bv = Array.from({ length: NV }, () => fn.local(V128));
  const av = fn.local(V128);
  const sacc = Array.from({ length: MR }, () => fn.local(F32));
  const sb = fn.local(F32);
  const addTo = (l: number, by: Code): Code => set(l, i32.add(get(l), by));
  const bytes = (n: Code): Code => i32.mul(n, i32c(4));
  const at = (xs: number[], q: number): number => xs[q] as number;

  // A's element (row i + r, column k) as pointer + constant offset: one pointer per tile row advanced
  // 4 bytes per k, or (At) one pointer advanced by a row of At per k, the tile's rows 4 bytes apart.
  const aStart = (rows: number): Code[] =>
    transposedA
      ? [set(at(pa, 0), i32.add(get(A), bytes(get(i))))]
      : Array.from({ length: rows }, (_, r) =>
          set(at(pa, r), i32.add(get(A), i32.mul(i32.add(get(i), i32c(r)), get(aStep)))),
        );
  const aAddr = (r: number): [Code, number] => (transposedA ? [get(at(pa, 0)), 4 * r] : [get(at(pa, r)), 0]);
  const aNext = (rows: number): Code[] =>
    transposedA
      ? [addTo(at(pa, 0), get(aStep))]
      : Array.from({ length: rows }, (_, r) => addTo(at(pa, r), i32c(4)));

  /**
   * Σ over k in order for the tile at (i, j): `body` adds step k's products; B row k at pb, read from
   * the panels (8 floats per k, panel j / 8 at panels + 4·j·K) or from b in place (N floats per k).
   */
  const kLoop = (rows: number, body: Code[], fromPanels = false): Code[] => [
    ...aStart(rows),
    set(pb, fromPanels ? i32.add(get(P), i32.mul(bytes(get(j)), get(K))) : i32.add(get(B), bytes(get(j)))),
    set(k, i32c(0)),
    whileLoop(
      i32.ltS(get(k), get(K)),
      ...body,
      ...aNext(rows),
      addTo(pb, fromPanels ? i32c(16 * NV) : get(rowBytes)),
      addTo(k, i32c(1)),
    ),
  ];

  /** One tile of `rows` rows × `vecs` f32x4 column groups at (i, j): Σ_k in order, then store. */
  const vectorTile = (rows: number, vecs: number): Code[] => {
    const accAt = (r: number, v: number): number => at(acc, r * NV + v);
    const store = (withBias: boolean): Code[] =>
      Array.from({ length: rows }, (_, r) => [
        set(pc, i32.add(get(C), bytes(i32.add(i32.mul(i32.add(get(i), i32c(r)), get(N)), get(j))))),
        ...Array.from({ length: vecs }, (_, v) =>
          v128.store(
            get(pc),
            withBias
              ? f32x4.add(get(accAt(r, v)), v128.load(i32.add(get(BIAS), bytes(get(j))), 16 * v))
              : get(accAt(r, v)),
            16 * v,
          ),
        ),
      ]).flat();
    return [
      ...Array.from({ length: rows * vecs }, (_, q) =>
        set(accAt(Math.floor(q / vecs), q % vecs), v128.i32Const([0, 0, 0, 0])),
      ),
      ...kLoop(
        rows,
        [
          ...Array.from({ length: vecs }, (_, v) => set(at(bv, v), v128.load(get(pb), 16 * v))),
          ...Array.from({ length: rows }, (_, r) => [
            set(av, v128.load32Splat(...aAddr(r))),
            ...Array.from({ length: vecs }, (_, v) =>
              set(
                accAt(r, v),
                fusedMultiplyAdd
                  ? f32x4.relaxedMadd(get(av), get(at(bv, v)), get(accAt(r, v)))
                  : f32x4.add(get(accAt(r, v)), f32x4.mul(get(av), get(at(bv, v)))),
              ),
            ),
          ]).flat(),
        ],
        packedB && vecs === NV,
      ),
      ifThen(get(BIAS), store(true), store(false)),
    ];
  };

  const scalarStore = (rows: number, withBias: boolean): Code[] =>
    Array.from({ length: rows }, (_, r) =>
      f32.store(
        i32.add(get(C), bytes(i32.add(i32.mul(i32.add(get(i), i32c(r)), get(N)), get(j)))),
        withBias ? f32.add(get(at(sacc, r)), f32.load(i32.add(get(BIAS), bytes(get(j))))) : get(at(sacc, r)),
      ),
    );

  /** One column j of `rows` rows, in scalar f32 arithmetic (the same per-step roundings as a lane). */
  const scalarTile = (rows: number): Code[] => [
    ...Array.from({ length: rows }, (_, r) => set(at(sacc, r), f32c(0))),
    ...kLoop(rows, [
      set(sb, f32.load(get(pb))),
      ...Array.from({ length: rows }, (_, r) =>
        set(at(sacc, r), f32.add(get(at(sacc, r)), f32.mul(f32.load(...aAddr(r)), get(sb)))),
      ),
    ]),
    ifThen(get(BIAS), scalarStore(rows, true), scalarStore(rows, false)),
  ];

  /** Every column of the rows i … i + rows − 1. */
  const rowBlock = (rows: number): Code[] => [
    set(j, i32c(0)),
    whileLoop(i32.ltS(get(j), get(nt)), ...vectorTile(rows, NV), addTo(j, i32c(4 * NV))),
    whileLoop(i32.ltS(get(j), get(n4)), ...vectorTile(rows, 1), addTo(j, i32c(4))),
    whileLoop(i32.ltS(get(j), get(N)), ...scalarTile(rows), addTo(j, i32c(1))),
  ];

  const body: Code[] = [
    set(m4, i32.mul(i32.divS(get(M), i32c(MR)), i32c(MR))),
    set(nt, i32.mul(i32.divS(get(N), i32c(4 * NV)), i32c(4 * NV))),
    set(n4, i32.mul(i32.divS(get(N), i32c(4)), i32c(4))),
    set(rowBytes, bytes(get(N))),
    // A's step: one A row between row pointers, or one At row per k
    set(aStep, bytes(get(LDA))),
    set(i, i32c(0)),
    whileLoop(i32.ltS(get(i), get(m4)), ...rowBlock(MR), addTo(i, i32c(MR))),
    whileLoop(i32.ltS(get(i), get(M)), ...rowBlock(1), addTo(i, i32c(1))),
  ];
  return { fn, body };
}

/**
 * pack(b, panels, K, N): copies the full 8-column groups of B [K, N] into panels [⌊N/8⌋, K, 8], so
 * that a tile's B rows are consecutive: walking B itself, each k is a new row N floats on (at
 * N = 1 024 every row 4 KB apart, the same cache set), which at K or N ≥ 768 made the in-place
 * kernel slower than XNNPACK.
 */
function pack() {
  const fn = new FuncBuilder('pack', pointers(4));
  const [B, P, K, N] = [0, 1, 2, 3];
  const { j, k, n8, src, dst } = fn.named(I32, 'j k n8 src dst');
  const body: Code[] = [
    set(n8, i32.mul(i32.divS(get(N), i32c(4 * NV)), i32c(4 * NV))),
    set(dst, get(P)),
    set(j, i32c(0)),
    whileLoop(
      i32.ltS(get(j), get(n8)),
      set(src, i32.add(get(B), i32.mul(get(j), i32c(4)))),
      set(k, i32c(0)),
      whileLoop(
        i32.ltS(get(k), get(K)),
        ...Array.from({ length: NV }, (_, v) => v128.store(get(dst), v128.load(get(src), 16 * v), 16 * v)),
        set(src, i32.add(get(src), i32.mul(get(N), i32c(4)))),
        set(dst, i32.add(get(dst), i32c(16 * NV))),
        set(k, i32.add(get(k), i32c(1))),
      ),
      set(j, i32.add(get(j), i32c(4 * NV))),
    ),
  ];
  return { fn, body };
}

/** A module's exports (byte addresses into the backend's memory; bias 0 for none). */
export interface MatMulSimdExports {
  /**
   * C = A·B (+ bias), A [M, K]; or, in the transposed-A module, C = Aᵀ·B with A given as At [K, M].
   * `panels` is read only by the packed-B module (else pass 0); `lda` is A's row stride in floats (K
   * for A, the full M for At).
   */
  gemm(
    a: number,
    b: number,
    panels: number,
    bias: number,
    c: number,
    m: number,
    k: number,
    n: number,
    lda: number,
  ): void;
  /** The packed-B module only: fills `panels` (4·K·⌊N/8⌋·8 bytes) from B [K, N]. */
  pack?(b: number, panels: number, k: number, n: number): void;
}

/** The module variants: B read in place (A or Aᵀ), or B's 8-column groups packed first (A only). */
export type MatMulVariant = 'inPlace' | 'transposedA' | 'packedB';

/**
 * Module bytes, one variant per module so that each stays under the 4 KB a browser's main thread
 * lets `new WebAssembly.Module` compile synchronously. `fusedMultiplyAdd` builds the 4 × 8 tiles on
 * relaxed SIMD's multiply-add instead (other floats; needs an engine with relaxed SIMD): measured by
 * bench/suites/product-ceiling.ts, not used by the kernels, because it is no faster on the benchmark
 * machine (docs/benchmarks.md, "Product rate ceiling").
 */
export function matMulSimdModule(
  variant: MatMulVariant,
  sharedMemory = false,
  fusedMultiplyAdd = false,
): Uint8Array {
  if (variant === 'packedB')
    return buildModule([gemm('gemm', false, true, fusedMultiplyAdd), pack()], sharedMemory);
  return buildModule([gemm('gemm', variant === 'transposedA', false, fusedMultiplyAdd)], sharedMemory);
}
