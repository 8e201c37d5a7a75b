/**
 * WebAssembly SIMD code for one spectral-norm power iteration on a kernel stored transposed,
 * K = Wᵀ [in, out] (`torch.nn.utils.spectral_norm`'s training-mode update):
 *
 *   v' = normalize(K·u)   (= Wᵀu, [in]),   u' = normalize(v'ᵀ·K)   (= W·v', [out]),
 *   normalize(x) = x / max(‖x‖₂, ε)
 *
 * tfjs runs ~20 kernels for the same (two matMuls, two norms of five kernels each, reshapes). Sums
 * run four columns per f32x4 (a dot product's lanes added at the end), so they round differently
 * from XNNPACK's matMul: within float32 accumulation error, as between any two BLAS.
 */
import {
  buildModule,
  type Code,
  F32,
  FuncBuilder,
  f32,
  f32At,
  f32c,
  f32x4,
  get,
  hsum,
  I32,
  i32,
  i32c,
  incBy,
  set,
  V128,
  v128,
  whileLoop,
} from './emit';

function powerIteration() {
  // params: K [in, out], u [out], vOut [in], uOut [out] (byte addresses), in, out, ε
  const fn = new FuncBuilder('powerIteration', [I32, I32, I32, I32, I32, I32, F32]);
  const [K, U, VO, UO, IN, OUT, EPS] = [0, 1, 2, 3, 4, 5, 6];
  const i = fn.local(I32);
  const j = fn.local(I32);
  const out4 = fn.local(I32);
  const row = fn.local(I32);
  const acc = fn.local(V128);
  const s = fn.local(F32);
  const vi = fn.local(F32);
  // x[0..n) /= max(√Σx², ε), in place; the sum of squares in element order.
  const normalize = (x: number, n: number): Code[] => [
    set(s, f32c(0)),
    set(i, i32c(0)),
    whileLoop(
      i32.ltS(get(i), get(n)),
      set(s, f32.add(get(s), f32.mul(f32.load(f32At(x, i)), f32.load(f32At(x, i))))),
      incBy(i, 1),
    ),
    set(s, f32.max(f32.sqrt(get(s)), get(EPS))),
    set(i, i32c(0)),
    whileLoop(
      i32.ltS(get(i), get(n)),
      f32.store(f32At(x, i), f32.div(f32.load(f32At(x, i)), get(s))),
      incBy(i, 1),
    ),
  ];
  const body: Code[] = [
    set(out4, i32.mul(i32.divS(get(OUT), i32c(4)), i32c(4))),
    // v'[i] = Σ_j K[i, j]·u[j]
    set(i, i32c(0)),
    set(row, get(K)),
    whileLoop(
      i32.ltS(get(i), get(IN)),
      set(acc, f32x4.splat(f32c(0))),
      set(j, i32c(0)),
      whileLoop(
        i32.ltS(get(j), get(out4)),
        set(acc, f32x4.add(get(acc), f32x4.mul(v128.load(f32At(row, j)), v128.load(f32At(U, j))))),
        incBy(j, 4),
      ),
      set(s, hsum(acc)),
      whileLoop(
        i32.ltS(get(j), get(OUT)),
        set(s, f32.add(get(s), f32.mul(f32.load(f32At(row, j)), f32.load(f32At(U, j))))),
        incBy(j, 1),
      ),
      f32.store(f32At(VO, i), get(s)),
      set(row, f32At(row, OUT)),
      incBy(i, 1),
    ),
    ...normalize(VO, IN),
    // u'[j] = Σ_i v'[i]·K[i, j], rows added in order
    set(j, i32c(0)),
    whileLoop(i32.ltS(get(j), get(OUT)), f32.store(f32At(UO, j), f32c(0)), incBy(j, 1)),
    set(i, i32c(0)),
    set(row, get(K)),
    whileLoop(
      i32.ltS(get(i), get(IN)),
      set(vi, f32.load(f32At(VO, i))),
      set(acc, f32x4.splat(get(vi))),
      set(j, i32c(0)),
      whileLoop(
        i32.ltS(get(j), get(out4)),
        v128.store(
          f32At(UO, j),
          f32x4.add(v128.load(f32At(UO, j)), f32x4.mul(get(acc), v128.load(f32At(row, j)))),
        ),
        incBy(j, 4),
      ),
      whileLoop(
        i32.ltS(get(j), get(OUT)),
        f32.store(f32At(UO, j), f32.add(f32.load(f32At(UO, j)), f32.mul(get(vi), f32.load(f32At(row, j))))),
        incBy(j, 1),
      ),
      set(row, f32At(row, OUT)),
      incBy(i, 1),
    ),
    ...normalize(UO, OUT),
  ];
  return { fn, body };
}

/** The module's exports. */
export interface PowerIterationSimdExports {
  powerIteration(
    k: number,
    u: number,
    vOut: number,
    uOut: number,
    inDim: number,
    outDim: number,
    eps: number,
  ): void;
}

/** Module bytes. */
export function powerIterationSimdModule(sharedMemory = false): Uint8Array {
  return buildModule([powerIteration()], sharedMemory);
}
