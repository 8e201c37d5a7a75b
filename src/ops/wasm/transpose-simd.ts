/**
 * WebAssembly SIMD transpose of a row-major [R, C] float32 matrix into y [C, R]: 4 × 4 blocks, each
 * four row loads, eight lane shuffles and four row stores, walked in column tiles so that the output
 * rows being written stay in cache while every input row streams through once; the last R mod 4
 * rows and C mod 4 columns one float at a time. The tile is 8 columns when R is a multiple of 512
 * (output rows 2 KB apart or a multiple of it: they fall on one or two sets of a 64-set L1 cache, and
 * more than eight of them evict one another) and 16 otherwise; a tile of 64 made [1024, 256] eight
 * times slower (docs/benchmarks.md, "Why the kernels look as they do", transpose rows). Exact (values are moved, never computed).
 * Used for the explicit transposes of the linear-layer gradients, where tfjs-backend-wasm 4.x's
 * Transpose takes several times a copy of the same bytes (docs/benchmarks.md, "Why the kernels look as they do").
 */
import {
  buildModule,
  type Code,
  FuncBuilder,
  f32,
  get,
  I32,
  i32,
  i32c,
  ifThen,
  select,
  set,
  V128,
  v128,
  whileLoop,
} from './emit';

/** i8x16.shuffle byte lanes picking f32 lanes (0–3 from a, 4–7 from b). */
const lanes = (...f: number[]): number[] => f.flatMap((k) => [4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3]);

function transpose() {
  // params: x, y, R, C, ldx (floats between x's rows: C, or more when x is a block of a wider
  // matrix's columns, so that a block of y's rows can be written on its own)
  const fn = new FuncBuilder('transpose2d', [I32, I32, I32, I32, I32]);
  const [X, Y, R, C, LDX] = [0, 1, 2, 3, 4];
  const r = fn.local(I32);
  const c = fn.local(I32);
  const ct = fn.local(I32);
  const cEnd = fn.local(I32);
  const r4 = fn.local(I32);
  const c4 = fn.local(I32);
  const xs = fn.local(I32); // bytes per input row
  const ys = fn.local(I32); // bytes per output row
  const tile = fn.local(I32);
  const xa = fn.local(I32);
  const ya = fn.local(I32);
  const a0 = fn.local(V128);
  const a1 = fn.local(V128);
  const a2 = fn.local(V128);
  const a3 = fn.local(V128);
  const t0 = fn.local(V128);
  const t1 = fn.local(V128);
  const t2 = fn.local(V128);
  const t3 = fn.local(V128);
  const inc = (l: number, n: Code): Code => set(l, i32.add(get(l), n));
  const times4 = (v: Code): Code => i32.mul(v, i32c(4));
  const block: Code[] = [
    set(xa, i32.add(get(X), times4(i32.add(i32.mul(get(r), get(LDX)), get(c))))),
    set(ya, i32.add(get(Y), times4(i32.add(i32.mul(get(c), get(R)), get(r))))),
    set(a0, v128.load(get(xa))),
    set(a1, v128.load(i32.add(get(xa), get(xs)))),
    set(a2, v128.load(i32.add(get(xa), i32.mul(get(xs), i32c(2))))),
    set(a3, v128.load(i32.add(get(xa), i32.mul(get(xs), i32c(3))))),
    set(t0, v128.shuffle(get(a0), get(a1), lanes(0, 4, 1, 5))),
    set(t1, v128.shuffle(get(a0), get(a1), lanes(2, 6, 3, 7))),
    set(t2, v128.shuffle(get(a2), get(a3), lanes(0, 4, 1, 5))),
    set(t3, v128.shuffle(get(a2), get(a3), lanes(2, 6, 3, 7))),
    v128.store(get(ya), v128.shuffle(get(t0), get(t2), lanes(0, 1, 4, 5))),
    v128.store(i32.add(get(ya), get(ys)), v128.shuffle(get(t0), get(t2), lanes(2, 3, 6, 7))),
    v128.store(
      i32.add(get(ya), i32.mul(get(ys), i32c(2))),
      v128.shuffle(get(t1), get(t3), lanes(0, 1, 4, 5)),
    ),
    v128.store(
      i32.add(get(ya), i32.mul(get(ys), i32c(3))),
      v128.shuffle(get(t1), get(t3), lanes(2, 3, 6, 7)),
    ),
  ];
  // y[c, r] = x[r, c], one float
  const one: Code = f32.store(
    i32.add(get(Y), times4(i32.add(i32.mul(get(c), get(R)), get(r)))),
    f32.load(i32.add(get(X), times4(i32.add(i32.mul(get(r), get(LDX)), get(c))))),
  );
  const body: Code[] = [
    set(r4, i32.mul(i32.divS(get(R), i32c(4)), i32c(4))),
    set(c4, i32.mul(i32.divS(get(C), i32c(4)), i32c(4))),
    set(xs, times4(get(LDX))),
    set(ys, times4(get(R))),
    set(tile, select(i32c(8), i32c(16), i32.eqz(i32.and(get(R), i32c(511))))),
    // 4 × 4 blocks, column tile by column tile
    set(ct, i32c(0)),
    whileLoop(
      i32.ltS(get(ct), get(c4)),
      set(cEnd, i32.add(get(ct), get(tile))),
      ifThen(i32.ltS(get(c4), get(cEnd)), [set(cEnd, get(c4))]),
      set(r, i32c(0)),
      whileLoop(
        i32.ltS(get(r), get(r4)),
        set(c, get(ct)),
        whileLoop(i32.ltS(get(c), get(cEnd)), ...block, inc(c, i32c(4))),
        inc(r, i32c(4)),
      ),
      set(ct, get(cEnd)),
    ),
    // the last C mod 4 columns of the first r4 rows
    set(r, i32c(0)),
    whileLoop(
      i32.ltS(get(r), get(r4)),
      set(c, get(c4)),
      whileLoop(i32.ltS(get(c), get(C)), one, inc(c, i32c(1))),
      inc(r, i32c(1)),
    ),
    // the last R mod 4 rows, every column
    set(r, get(r4)),
    whileLoop(
      i32.ltS(get(r), get(R)),
      set(c, i32c(0)),
      whileLoop(i32.ltS(get(c), get(C)), one, inc(c, i32c(1))),
      inc(r, i32c(1)),
    ),
  ];
  return { fn, body };
}

/** The module's exports (byte addresses into the backend's memory). */
export interface TransposeSimdExports {
  /** y [c, r] = xᵀ for x [r, c] whose rows are `ldx` floats apart (c for a whole matrix). */
  transpose2d(x: number, y: number, r: number, c: number, ldx: number): void;
}

/** Module bytes. */
export function transposeSimdModule(sharedMemory = false): Uint8Array {
  return buildModule([transpose()], sharedMemory);
}
