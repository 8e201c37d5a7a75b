/**
 * WebAssembly SIMD code for the spectral-norm weight W = K/σ, σ = vᵀ·K·u (K = Wᵀ [in, out], u [out],
 * v [in] constants of the gradient, as in `torch.nn.utils.spectral_norm`), and its gradient
 *
 *   dK = G/σ − (Σ G∘K)/σ² · v·uᵀ
 *
 * one pass each, where tfjs records 7 kernels forward and runs 16 backward (casts, a reduction, an
 * outer product, reshapes). σ sums row dot products K[i,:]·u four columns per f32x4, weighted by
 * v[i]: the same value as tfjs's (vᵀK)·u within float32 rounding.
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

/** Loops k over [0, n): four at a time while k + 4 ≤ n4, then one at a time. */
function quads(k: number, n4: number, n: number, vector: Code[], scalar: Code[]): Code[] {
  return [
    set(k, i32c(0)),
    whileLoop(i32.ltS(get(k), get(n4)), ...vector, incBy(k, 4)),
    whileLoop(i32.ltS(get(k), get(n)), ...scalar, incBy(k, 1)),
  ];
}

function forward() {
  // params: K, u, v, W, σ out (byte addresses), in, out
  const fn = new FuncBuilder('spectralScale', [I32, I32, I32, I32, I32, I32, I32]);
  const [K, U, VV, W, SIG, IN, OUT] = [0, 1, 2, 3, 4, 5, 6];
  const i = fn.local(I32);
  const j = fn.local(I32);
  const out4 = fn.local(I32);
  const n = fn.local(I32);
  const n4 = fn.local(I32);
  const row = fn.local(I32);
  const acc = fn.local(V128);
  const r = fn.local(F32);
  const sigma = fn.local(F32);
  const inv = fn.local(V128);
  const body: Code[] = [
    set(out4, i32.mul(i32.divS(get(OUT), i32c(4)), i32c(4))),
    set(sigma, f32c(0)),
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
      set(r, hsum(acc)),
      whileLoop(
        i32.ltS(get(j), get(OUT)),
        set(r, f32.add(get(r), f32.mul(f32.load(f32At(row, j)), f32.load(f32At(U, j))))),
        incBy(j, 1),
      ),
      set(sigma, f32.add(get(sigma), f32.mul(f32.load(f32At(VV, i)), get(r)))),
      set(row, f32At(row, OUT)),
      incBy(i, 1),
    ),
    f32.store(get(SIG), get(sigma)),
    set(n, i32.mul(get(IN), get(OUT))),
    set(n4, i32.mul(i32.divS(get(n), i32c(4)), i32c(4))),
    set(inv, f32x4.splat(get(sigma))),
    ...quads(
      i,
      n4,
      n,
      [v128.store(f32At(W, i), f32x4.div(v128.load(f32At(K, i)), get(inv)))],
      [f32.store(f32At(W, i), f32.div(f32.load(f32At(K, i)), get(sigma)))],
    ),
  ];
  return { fn, body };
}

function backward() {
  // params: G, K, u, v, σ, dK (byte addresses), in, out
  const fn = new FuncBuilder('spectralScaleGrad', [I32, I32, I32, I32, I32, I32, I32, I32]);
  const [G, K, U, VV, SIG, DK, IN, OUT] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = fn.local(I32);
  const j = fn.local(I32);
  const n = fn.local(I32);
  const n4 = fn.local(I32);
  const out4 = fn.local(I32);
  const row = fn.local(I32);
  const acc = fn.local(V128);
  const s = fn.local(F32);
  const sigma = fn.local(F32);
  const c = fn.local(F32);
  const cv = fn.local(V128);
  const sv = fn.local(V128);
  const body: Code[] = [
    set(sigma, f32.load(get(SIG))),
    // s = Σ G∘K
    set(n, i32.mul(get(IN), get(OUT))),
    set(n4, i32.mul(i32.divS(get(n), i32c(4)), i32c(4))),
    set(acc, f32x4.splat(f32c(0))),
    set(i, i32c(0)),
    whileLoop(
      i32.ltS(get(i), get(n4)),
      set(acc, f32x4.add(get(acc), f32x4.mul(v128.load(f32At(G, i)), v128.load(f32At(K, i))))),
      incBy(i, 4),
    ),
    set(s, hsum(acc)),
    whileLoop(
      i32.ltS(get(i), get(n)),
      set(s, f32.add(get(s), f32.mul(f32.load(f32At(G, i)), f32.load(f32At(K, i))))),
      incBy(i, 1),
    ),
    set(c, f32.div(get(s), f32.mul(get(sigma), get(sigma)))),
    set(sv, f32x4.splat(get(sigma))),
    // dK[i, j] = G[i, j]/σ − (c·v[i])·u[j]
    set(out4, i32.mul(i32.divS(get(OUT), i32c(4)), i32c(4))),
    set(i, i32c(0)),
    set(row, i32c(0)),
    whileLoop(
      i32.ltS(get(i), get(IN)),
      set(cv, f32x4.splat(f32.mul(get(c), f32.load(f32At(VV, i))))),
      set(j, i32c(0)),
      whileLoop(
        i32.ltS(get(j), get(out4)),
        v128.store(
          i32.add(f32At(DK, j), get(row)),
          f32x4.sub(
            f32x4.div(v128.load(i32.add(f32At(G, j), get(row))), get(sv)),
            f32x4.mul(get(cv), v128.load(f32At(U, j))),
          ),
        ),
        incBy(j, 4),
      ),
      whileLoop(
        i32.ltS(get(j), get(OUT)),
        f32.store(
          i32.add(f32At(DK, j), get(row)),
          f32.sub(
            f32.div(f32.load(i32.add(f32At(G, j), get(row))), get(sigma)),
            f32.mul(f32x4.extract(get(cv), 0), f32.load(f32At(U, j))),
          ),
        ),
        incBy(j, 1),
      ),
      set(row, i32.add(get(row), i32.mul(get(OUT), i32c(4)))),
      incBy(i, 1),
    ),
  ];
  return { fn, body };
}

/** The module's exports. */
export interface SpectralScaleSimdExports {
  spectralScale(
    k: number,
    u: number,
    v: number,
    w: number,
    sigma: number,
    inDim: number,
    outDim: number,
  ): void;
  spectralScaleGrad(
    g: number,
    k: number,
    u: number,
    v: number,
    sigma: number,
    dk: number,
    inDim: number,
    outDim: number,
  ): void;
}

/** Module bytes. */
export function spectralScaleSimdModule(sharedMemory = false): Uint8Array {
  return buildModule([forward(), backward()], sharedMemory);
}
