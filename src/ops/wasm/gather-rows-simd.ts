/**
 * WebAssembly SIMD row gather: out[r, :] = table[ids[r], :] for a row-major [V, D] float32 table and
 * N int32 ids, rows copied 4 floats per v128 load/store (the last D mod 4 floats one at a time), in
 * place on the backend's memory. Plain copies, so the floats are bit-identical to `tf.gather`'s.
 * tfjs-backend-wasm's GatherV2 walks every element through generic stride arithmetic instead.
 *
 * Each id is clamped to [0, V − 1] before its row is read, so no id can make the kernel read outside
 * the table; the caller refuses out-of-range ids before the kernel runs (../embedding-lookup.ts).
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
  set,
  v128,
  whileLoop,
} from './emit';

function gatherRows() {
  // params: table, ids, out, N, D, V
  const fn = new FuncBuilder('gatherRows', [I32, I32, I32, I32, I32, I32]);
  const [TABLE, IDS, OUT, N, D, V] = [0, 1, 2, 3, 4, 5];
  const { r, c, d4, id, src, dst } = fn.named(I32, 'r c d4 id src dst');
  const at = (base: number, col: number): Code => i32.add(get(base), i32.mul(get(col), i32c(4)));
  const body: Code[] = [
    // d4 = D − D mod 4 (D ≥ 0)
    set(d4, i32.mul(i32.divS(get(D), i32c(4)), i32c(4))),
    set(r, i32c(0)),
    set(dst, get(OUT)),
    whileLoop(
      i32.ltS(get(r), get(N)),
      set(id, i32.load(at(IDS, r))),
      ifThen(i32.ltS(get(id), i32c(0)), [set(id, i32c(0))]),
      ifThen(i32.leS(get(V), get(id)), [set(id, i32.sub(get(V), i32c(1)))]),
      set(src, i32.add(get(TABLE), i32.mul(i32.mul(get(id), get(D)), i32c(4)))),
      set(c, i32c(0)),
      whileLoop(
        i32.ltS(get(c), get(d4)),
        v128.store(at(dst, c), v128.load(at(src, c))),
        set(c, i32.add(get(c), i32c(4))),
      ),
      whileLoop(
        i32.ltS(get(c), get(D)),
        f32.store(at(dst, c), f32.load(at(src, c))),
        set(c, i32.add(get(c), i32c(1))),
      ),
      set(dst, at(dst, D)),
      set(r, i32.add(get(r), i32c(1))),
    ),
  ];
  return { fn, body };
}

/** The module's exports. */
export interface GatherRowsSimdExports {
  gatherRows(table: number, ids: number, out: number, n: number, d: number, v: number): void;
}

/** Module bytes. */
export function gatherRowsSimdModule(sharedMemory = false): Uint8Array {
  return buildModule([gatherRows()], sharedMemory);
}
