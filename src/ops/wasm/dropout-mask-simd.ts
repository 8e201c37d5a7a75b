/**
 * WebAssembly SIMD code for the dropout mask of a {@link CounterStream} (../dropout.ts): for draws
 * i = lo0 … lo0 + 4·n4 − 1 of one 2³²-block (high word fixed, its hash H precomputed),
 *
 *   u_i = fmix32(seed ^ fmix32(i ^ H)),   out_i = u_i ≥ T ? keepScale : 0   (unsigned compare)
 *
 * with T = ⌈rate·2³²⌉, the integer form of `u_i / 2³² ≥ rate`: the same masks as drawing the stream
 * in JS, four draws per i32x4 (murmur3's finaliser: shifts, xors and 32-bit multiplies).
 */
import {
  buildModule,
  type Code,
  F32,
  FuncBuilder,
  f32x4,
  get,
  I32,
  i32,
  i32c,
  i32x4,
  set,
  V128,
  v128,
  whileLoop,
} from './emit';

/** murmur3's fmix32 on the i32x4 in local `h` (updated in place). */
function fmix4(h: number): Code[] {
  const shr = (n: number): Code => set(h, v128.xor(get(h), i32x4.shrU(get(h), i32c(n))));
  const mul = (c: number): Code => set(h, i32x4.mul(get(h), i32x4.splat(i32c(c | 0))));
  return [shr(16), mul(0x85ebca6b), shr(13), mul(0xc2b2ae35), shr(16)];
}

function mask() {
  // params: out (byte address), n4, lo0, H, seed, T, keepScale
  const fn = new FuncBuilder('dropoutMask', [I32, I32, I32, I32, I32, I32, F32]);
  const [OUT, N4, LO0, H, SEED, T, KEEP] = [0, 1, 2, 3, 4, 5, 6];
  const k = fn.local(I32);
  const h = fn.local(V128);
  const body: Code[] = [
    set(k, i32c(0)),
    whileLoop(
      i32.ltS(get(k), get(N4)),
      // counters lo0 + 4k + [0, 1, 2, 3]
      set(
        h,
        i32x4.add(i32x4.splat(i32.add(get(LO0), i32.mul(get(k), i32c(4)))), v128.i32Const([0, 1, 2, 3])),
      ),
      set(h, v128.xor(get(h), i32x4.splat(get(H)))),
      ...fmix4(h),
      set(h, v128.xor(get(h), i32x4.splat(get(SEED)))),
      ...fmix4(h),
      v128.store(
        i32.add(get(OUT), i32.mul(get(k), i32c(16))),
        v128.and(i32x4.geU(get(h), i32x4.splat(get(T))), f32x4.splat(get(KEEP))),
      ),
      set(k, i32.add(get(k), i32c(1))),
    ),
  ];
  return { fn, body };
}

/** The module's exports. */
export interface DropoutMaskSimdExports {
  dropoutMask(
    out: number,
    n4: number,
    lo0: number,
    h: number,
    seed: number,
    t: number,
    keepScale: number,
  ): void;
}

/** Module bytes. */
export function dropoutMaskSimdModule(sharedMemory = false): Uint8Array {
  return buildModule([mask()], sharedMemory);
}
