/**
 * WebAssembly SIMD column sums of a row-major [N, D] float32 matrix: out[c] = Σ_r x[r, c], rows
 * added in order into `out` (4 columns per f32x4; the last D mod 4 columns one at a time). Used for
 * bias and LayerNorm-affine gradients, where tfjs on wasm either transposes then reduces or runs a
 * ones[1, N]·x product that packs the whole x for XNNPACK first.
 */
import {
  buildModule,
  type Code,
  FuncBuilder,
  f32,
  f32c,
  f32x4,
  get,
  I32,
  i32,
  i32c,
  set,
  v128,
  whileLoop,
} from './emit';

function sumRows() {
  // params: x, out, N, D
  const fn = new FuncBuilder('sumRows', [I32, I32, I32, I32]);
  const [X, OUT, N, D] = [0, 1, 2, 3];
  const r = fn.local(I32);
  const c = fn.local(I32);
  const d4 = fn.local(I32);
  const row = fn.local(I32);
  const addr = (base: Code, col: Code): Code => i32.add(base, i32.mul(col, i32c(4)));
  const body: Code[] = [
    // d4 = D − D mod 4 (D ≥ 0)
    set(d4, i32.mul(i32.divS(get(D), i32c(4)), i32c(4))),
    set(c, i32c(0)),
    whileLoop(
      i32.ltS(get(c), get(D)),
      f32.store(addr(get(OUT), get(c)), f32c(0)),
      set(c, i32.add(get(c), i32c(1))),
    ),
    set(r, i32c(0)),
    set(row, get(X)),
    whileLoop(
      i32.ltS(get(r), get(N)),
      set(c, i32c(0)),
      whileLoop(
        i32.ltS(get(c), get(d4)),
        v128.store(
          addr(get(OUT), get(c)),
          f32x4.add(v128.load(addr(get(OUT), get(c))), v128.load(addr(get(row), get(c)))),
        ),
        set(c, i32.add(get(c), i32c(4))),
      ),
      whileLoop(
        i32.ltS(get(c), get(D)),
        f32.store(
          addr(get(OUT), get(c)),
          f32.add(f32.load(addr(get(OUT), get(c))), f32.load(addr(get(row), get(c)))),
        ),
        set(c, i32.add(get(c), i32c(1))),
      ),
      set(row, addr(get(row), get(D))),
      set(r, i32.add(get(r), i32c(1))),
    ),
  ];
  return { fn, body };
}

/** The module's exports. */
export interface SumRowsSimdExports {
  sumRows(x: number, out: number, n: number, d: number): void;
}

/** Module bytes. */
export function sumRowsSimdModule(sharedMemory = false): Uint8Array {
  return buildModule([sumRows()], sharedMemory);
}
