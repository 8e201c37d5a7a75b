/**
 * WebAssembly SIMD code for exact (erf) GELU and its gradient over a flat float32 array, one pass
 * each (tfjs runs five kernels forward and seven backward for the same formulas):
 *   forward:  y = x·Φ(x),            Φ(x) = ½(1 + erf(x/√2))
 *   backward: dx = dy·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π)
 * Both take byte addresses into the backend's memory and a count of 4-float groups (the caller
 * handles a remainder through a 4-float scratch).
 */
import {
  buildModule,
  type Code,
  FuncBuilder,
  f32x4,
  get,
  I32,
  i32,
  i32c,
  set,
  splat,
  V128,
  v128,
  whileLoop,
} from './emit';
import { erf4, exp4 } from './simd-math';

function gelu(backward: boolean) {
  // forward params: x, out, n4; backward params: x, dy, dx, n4
  const fn = new FuncBuilder(
    backward ? 'geluBackward' : 'geluForward',
    backward ? [I32, I32, I32, I32] : [I32, I32, I32],
  );
  const [X, DY, OUT, N4] = backward ? [0, 1, 2, 3] : [0, -1, 1, 2];
  const k = fn.local(I32);
  const off = fn.local(I32);
  // Two sets of registers: each group's erf and exp are chains of dependent multiply-adds, and two
  // independent groups per iteration let the second fill the first's latency.
  const regs = [0, 1].map(() => ({
    xv: fn.local(V128),
    e: fn.local(V128),
    t1: fn.local(V128),
    t2: fn.local(V128),
    t3: fn.local(V128),
    cdf: fn.local(V128),
  }));
  /** The 4-float group at byte offset off + at. */
  const group = (r: (typeof regs)[number], at: number): Code[] => {
    const { xv, e, t1, t2, t3, cdf } = r;
    return [
      set(xv, v128.load(i32.add(get(X), get(off)), at)),
      set(e, f32x4.mul(get(xv), splat(Math.SQRT1_2))),
      set(cdf, f32x4.mul(f32x4.add(erf4(e, t1, t2, t3), splat(1)), splat(0.5))),
      backward
        ? [
            set(e, f32x4.mul(f32x4.mul(get(xv), get(xv)), splat(-0.5))),
            // φ(x)·x + Φ(x), times dy
            set(e, f32x4.mul(exp4(e, t1, t2, t3), splat(1 / Math.sqrt(2 * Math.PI)))),
            v128.store(
              i32.add(get(OUT), get(off)),
              f32x4.mul(
                v128.load(i32.add(get(DY), get(off)), at),
                f32x4.add(get(cdf), f32x4.mul(get(xv), get(e))),
              ),
              at,
            ),
          ]
        : v128.store(i32.add(get(OUT), get(off)), f32x4.mul(get(xv), get(cdf)), at),
    ];
  };
  const [r0, r1] = regs as [(typeof regs)[number], (typeof regs)[number]];
  const body: Code[] = [
    set(k, i32c(0)),
    whileLoop(
      i32.leS(i32.add(get(k), i32c(2)), get(N4)),
      set(off, i32.mul(get(k), i32c(16))),
      ...group(r0, 0),
      ...group(r1, 16),
      set(k, i32.add(get(k), i32c(2))),
    ),
    whileLoop(
      i32.ltS(get(k), get(N4)),
      set(off, i32.mul(get(k), i32c(16))),
      ...group(r0, 0),
      set(k, i32.add(get(k), i32c(1))),
    ),
  ];
  return { fn, body };
}

/** The module's exports. */
export interface GeluSimdExports {
  geluForward(x: number, out: number, n4: number): void;
  geluBackward(x: number, dy: number, dx: number, n4: number): void;
}

/** Module bytes. */
export function geluSimdModule(sharedMemory = false): Uint8Array {
  return buildModule([gelu(false), gelu(true)], sharedMemory);
}
