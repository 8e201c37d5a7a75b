/**
 * WebAssembly SIMD code for the scaled-dot-product core of multi-head self-attention, forward and
 * backward, one call per layer and direction. Built by ./emit.ts for one (numHeads, headDim) pair, so
 * strides are immediates and a head's query/output/gradient row (headDim floats) lives in headDim/4
 * vector locals.
 *
 * Layouts (row-major float32, byte addresses into the backend's memory):
 * - qkv [B·T, 3h] (h = H·dh): row (b, t) is [q | k | v], head j at columns j·dh … j·dh + dh − 1 of
 *   each part (PyTorch's in_proj layout). No per-head copies: the kernel strides through it.
 * - keyBias [B, T] additive (0 or −1e9), dropout mask [B, H, T, T] (0 or 1/(1 − p)), out [B·T, h],
 *   dOut [B·T, h], dqkv [B·T, 3h], stats [B, H, T, 2]: each query row's score maximum and 1/Σexp.
 *
 * Forward per (b, j, query i): s_t = (c·q_i)·k_t + keyBias[b, t] (c = 1/√dh, q scaled first like
 * PyTorch), A_i = softmax(s) (max-shifted), out_i = Σ_t A_it·m_it·v_t; the row of A lives in a
 * scratch row, only (max, 1/Σ) are kept.
 * Backward per (b, j, i): A_i recomputed from q, k and the stats with the forward's operations
 * (the same floats), then dA_it = m_it·(dOut_i·v_t), dv_t += A_it·m_it·dOut_i,
 * dS_it = A_it·(dA_it − Σ_t dA_it·A_it), dq_i = c·Σ_t dS_it·k_t, dk_t += dS_it·(c·q_i). So the
 * backward pass keeps 2 floats per query and head instead of the T of a saved weight row (what
 * FlashAttention does; one more q·kᵀ per backward pass).
 *
 * Each (b, j) first copies head j's keys and values into contiguous [T, dh] rows of the scratch (the
 * backward pass also accumulates dk and dv there and writes them out once): read in place, every key
 * is a qkv row (3h floats, 3 KB at h = 256) after the last, a stride that maps a head's keys onto a
 * few cache sets, and the kernels ran about a third slower (docs/benchmarks.md, "Why the kernels look
 * as they do", attention rows). The copies change no arithmetic: the same floats either way.
 *
 * exp is ./simd-math.ts's exp4; inputs below −87.34 (masked keys: −1e9) give exactly 0, as float32
 * exp underflows.
 */

import { attentionBackward } from './attention-simd-backward';
import {
  copyKeysValues,
  type Geometry,
  hadd4,
  halves,
  headBases,
  hmax,
  rowDots,
} from './attention-simd-rows';
import {
  addTo,
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
  pointers,
  set,
  splat,
  V128,
  v128,
  whileLoop,
} from './emit';
import { exp4 } from './simd-math';

function forward({ numHeads: H, headDim: DH, causal = false }: Geometry, dropout: boolean) {
  const C = DH / 4;
  const h4 = H * DH * 4;
  const rs = 3 * h4;
  // params: qkv, keyBias, mask, stats, out, scratch (T + 2·T·dh + 4·T floats: the scores row, the
  // head's k and v copies, the partial score sums), B, T, scale
  const fn = new FuncBuilder(dropout ? 'forwardDropout' : 'forward', [...pointers(8), F32]);
  const [QKV, BIAS, MASK, STATS, OUT, SCR, NB, NT, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  // Declaration order fixes the local indices (and so the emitted bytes).
  const {
    b,
    j,
    i,
    t,
    biasRow,
    qBase,
    sBase,
    mBase,
    oBase,
    srow,
    mrow,
    kp,
    vp,
    t4,
    nk,
    kPack,
    vPack,
    src,
    part,
  } = fn.named(I32, 'b j i t biasRow qBase sBase mBase oBase srow mrow kp vp t4 nk kPack vPack src part');
  const ps = DH * 4;
  const { smax, ssum, w } = fn.named(F32, 'smax ssum w');
  const V = (): number => fn.local(V128);
  const q = Array.from({ length: C }, V);
  const o = Array.from({ length: C }, V);
  const acc = Array.from({ length: 4 }, V);
  const { s, vmax, vsum, e1, e2, e3, tmp1, tmp2 } = fn.named(V128, 's vmax vsum e1 e2 e3 tmp1 tmp2');

  const { pre, dot4, dot1 } = rowDots({
    vecs: q,
    load: (c) =>
      f32x4.mul(v128.load(i32.add(get(qBase), i32.mul(get(i), i32c(rs))), 16 * c), f32x4.splat(get(SCALE))),
    ptr: kp,
    start: get(kPack),
    stride: ps,
    acc,
    part: get(part),
    t,
    nk,
    split: false,
  });

  const perQuery: Code[] = [
    // keys 0 … nk − 1: all T, or 0 … i when causal
    set(nk, causal ? i32.add(get(i), i32c(1)) : get(NT)),
    set(srow, get(SCR)),
    set(mrow, i32.add(get(mBase), i32.mul(get(i), get(t4)))),
    // c·q_i, and the score sums of all but the last four column groups
    ...pre,
    // scores, four keys at a time, then the tail
    set(vmax, splat(-3.4e38)),
    set(t, i32c(0)),
    set(kp, get(kPack)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(nk)),
      ...dot4,
      set(s, f32x4.add(hadd4(acc, tmp1, tmp2), v128.load(f32At(biasRow, t)))),
      v128.store(f32At(srow, t), get(s)),
      set(vmax, f32x4.max(get(vmax), get(s))),
      addTo(t, i32c(4)),
      addTo(kp, i32c(4 * ps)),
    ),
    set(smax, hmax(vmax)),
    whileLoop(
      i32.ltS(get(t), get(nk)),
      set(s, dot1),
      set(w, f32.add(hsum(s), f32.load(f32At(biasRow, t)))),
      f32.store(f32At(srow, t), get(w)),
      set(smax, f32.max(get(smax), get(w))),
      addTo(t, i32c(1)),
      addTo(kp, i32c(ps)),
    ),
    // exp(s − max) and its sum
    set(vmax, f32x4.splat(get(smax))),
    set(vsum, splat(0)),
    set(t, i32c(0)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(nk)),
      set(e1, f32x4.sub(v128.load(f32At(srow, t)), get(vmax))),
      set(s, exp4(e1, e2, e3, tmp1)),
      v128.store(f32At(srow, t), get(s)),
      set(vsum, f32x4.add(get(vsum), get(s))),
      addTo(t, i32c(4)),
    ),
    set(ssum, hsum(vsum)),
    whileLoop(
      i32.ltS(get(t), get(nk)),
      set(e1, f32x4.splat(f32.sub(f32.load(f32At(srow, t)), get(smax)))),
      set(w, f32x4.extract(exp4(e1, e2, e3, tmp1), 0)),
      f32.store(f32At(srow, t), get(w)),
      set(ssum, f32.add(get(ssum), get(w))),
      addTo(t, i32c(1)),
    ),
    set(ssum, f32.div(f32c(1), get(ssum))),
    f32.store(i32.add(get(sBase), i32.mul(get(i), i32c(8))), get(smax)),
    f32.store(i32.add(get(sBase), i32.mul(get(i), i32c(8))), get(ssum), 4),
    set(vsum, f32x4.splat(get(ssum))),
    set(t, i32c(0)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(nk)),
      v128.store(f32At(srow, t), f32x4.mul(v128.load(f32At(srow, t)), get(vsum))),
      addTo(t, i32c(4)),
    ),
    whileLoop(
      i32.ltS(get(t), get(nk)),
      f32.store(f32At(srow, t), f32.mul(f32.load(f32At(srow, t)), get(ssum))),
      addTo(t, i32c(1)),
    ),
    // out_i = Σ_t A_it·m_it·v_t, at most four f32x4 columns per pass over the keys: with all eight
    // accumulators and the v row they would need more than the 16 vector registers V8 allocates on
    // x86-64, and a spilled accumulator makes every step wait for a store and a reload.
    ...halves(C).flatMap(([c0, c1]) => [
      ...o.slice(c0, c1).map((oc) => set(oc, splat(0))),
      set(t, i32c(0)),
      set(vp, get(vPack)),
      whileLoop(
        i32.ltS(get(t), get(nk)),
        set(
          s,
          f32x4.splat(
            dropout ? f32.mul(f32.load(f32At(srow, t)), f32.load(f32At(mrow, t))) : f32.load(f32At(srow, t)),
          ),
        ),
        ...o
          .slice(c0, c1)
          .map((oc, u) => set(oc, f32x4.add(get(oc), f32x4.mul(get(s), v128.load(get(vp), 16 * (c0 + u)))))),
        addTo(t, i32c(1)),
        addTo(vp, i32c(ps)),
      ),
    ]),
    ...o.map((oc, c) => v128.store(i32.add(get(oBase), i32.mul(get(i), i32c(h4))), get(oc), 16 * c)),
  ];

  const body: Code[] = [
    set(t4, i32.mul(get(NT), i32c(4))),
    set(b, i32c(0)),
    whileLoop(
      i32.ltS(get(b), get(NB)),
      set(biasRow, i32.add(get(BIAS), i32.mul(get(b), get(t4)))),
      set(j, i32c(0)),
      whileLoop(
        i32.ltS(get(j), i32c(H)),
        set(
          qBase,
          i32.add(
            get(QKV),
            i32.add(i32.mul(i32.mul(get(b), get(NT)), i32c(rs)), i32.mul(get(j), i32c(DH * 4))),
          ),
        ),
        set(
          oBase,
          i32.add(
            get(OUT),
            i32.add(i32.mul(i32.mul(get(b), get(NT)), i32c(h4)), i32.mul(get(j), i32c(DH * 4))),
          ),
        ),
        ...headBases(H, { b, j, nt: NT, t4, mask: MASK, stats: STATS, mBase, sBase }),
        // this head's keys and values as contiguous [T, dh] copies after the scratch row
        set(kPack, i32.add(get(SCR), get(t4))),
        set(vPack, i32.add(get(kPack), i32.mul(get(NT), i32c(ps)))),
        set(part, i32.add(get(vPack), i32.mul(get(NT), i32c(ps)))),
        ...copyKeysValues(
          { numHeads: H, headDim: DH },
          { t, nt: NT, src: [src, get(qBase)], k: [kp, get(kPack)], v: [vp, get(vPack)] },
        ),
        set(i, i32c(0)),
        whileLoop(i32.ltS(get(i), get(NT)), ...perQuery, addTo(i, i32c(1))),
        addTo(j, i32c(1)),
      ),
      addTo(b, i32c(1)),
    ),
  ];
  return { fn, body };
}

/**
 * The forward functions' parameters (byte addresses into the imported memory; `scratch` holds
 * T + 2·T·dh + 4·T floats; `scale` = 1/√dh).
 */
type ForwardFn = (
  qkv: number,
  keyBias: number,
  mask: number,
  stats: number,
  out: number,
  scratch: number,
  B: number,
  T: number,
  scale: number,
) => void;
/**
 * The backward functions' parameters (byte addresses; `scratch` holds 2·T + 4·T·dh + 4·T floats: the
 * rows A and dA, the head's k and v copies, its dk and dv accumulators, partial dot products).
 */
type BackwardFn = (
  qkv: number,
  stats: number,
  keyBias: number,
  mask: number,
  dOut: number,
  dqkv: number,
  scratch: number,
  B: number,
  T: number,
  scale: number,
) => void;

/** The module's exports: each direction without and with a dropout mask. */
export interface AttentionSimdExports {
  forward: ForwardFn;
  forwardDropout: ForwardFn;
  backward: BackwardFn;
  backwardDropout: BackwardFn;
}

/** Module bytes for `numHeads` heads of `headDim` (a multiple of 4), causal or not. */
export function attentionSimdModule(geometry: Geometry, sharedMemory = false): Uint8Array {
  return buildModule(
    [
      forward(geometry, false),
      forward(geometry, true),
      attentionBackward(geometry, false),
      attentionBackward(geometry, true),
    ],
    sharedMemory,
  );
}
