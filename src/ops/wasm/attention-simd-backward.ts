/**
 * The backward attention kernel (see ./attention-simd.ts for layouts and formulas): per (b, head j,
 * query i), the row A_i recomputed from q, k, the key bias and the forward's stats (max, 1/Σ) with the
 * forward's own operations, then dA_it = m_it·(dOut_i·v_t), dv_t += A_it·m_it·dOut_i,
 * dS_it = A_it·(dA_it − Σ_t dA_it·A_it), dq_i = c·Σ_t dS_it·k_t, dk_t += dS_it·(c·q_i).
 */

import {
  columns,
  copyKeysValues,
  type Geometry,
  hadd4,
  halves,
  headBases,
  overRows,
  rowDots,
} from './attention-simd-rows';
import {
  addTo,
  type Code,
  F32,
  FuncBuilder,
  f32,
  f32At,
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

/** The backward function of the module for `geometry`, with or without a dropout mask. */
export function attentionBackward({ numHeads: H, headDim: DH, causal = false }: Geometry, dropout: boolean) {
  const C = DH / 4;
  const h4 = H * DH * 4;
  const rs = 3 * h4;
  // params: qkv, stats, keyBias, mask, dOut, dqkv (zeroed by the caller), scratch [2T + 4·T·dh + 4T],
  // B, T, scale
  const fn = new FuncBuilder(dropout ? 'backwardDropout' : 'backward', [...pointers(9), F32]);
  const [QKV, STATS, BIAS, MASK, DOUT, DQKV, SCR, NB, NT, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  // Declaration order fixes the local indices (and so the emitted bytes).
  const { b, j, i, t, qBase, dBase, gBase, sBase, mBase, arow, mrow, kp, vp, dvp, t4, nk, biasRow, drow } =
    fn.named(I32, 'b j i t qBase dBase gBase sBase mBase arow mrow kp vp dvp t4 nk biasRow drow');
  const { kPack, vPack, dkPack, dvPack, src, dz, part } = fn.named(
    I32,
    'kPack vPack dkPack dvPack src dz part',
  );
  // row stride of the per-head contiguous copies
  const ps = DH * 4;
  const { rd, dA, ad, smax, ssum, w } = fn.named(F32, 'rd dA ad smax ssum w');
  const V = (): number => fn.local(V128);
  const g = Array.from({ length: C }, V);
  const acc = Array.from({ length: 4 }, V);
  const { s, av, vrd, ws, tmp1, tmp2, vmax, vsum, e1, e2, e3 } = fn.named(
    V128,
    's av vrd ws tmp1 tmp2 vmax vsum e1 e2 e3',
  );

  const dOutRow = (c: number): Code => v128.load(i32.add(get(gBase), i32.mul(get(i), i32c(h4))), 16 * c);
  const qRow = (c: number): Code =>
    f32x4.mul(v128.load(i32.add(get(qBase), i32.mul(get(i), i32c(rs))), 16 * c), f32x4.splat(get(SCALE)));
  const common = { ptr: vp, start: get(vPack), stride: ps, acc, part: get(part), t, nk };
  // dOut_i·v_t (g's locals hold dOut_i's column groups)
  const { pre, dot4, dot1 } = rowDots({ ...common, vecs: g, load: dOutRow });
  // c·q_i·k_t for the recomputed scores (g's locals hold c·q_i's then)
  const scores = rowDots({ ...common, vecs: g, load: qRow, ptr: kp, start: get(kPack) });
  const stat = (offset: number): Code => f32.load(i32.add(get(sBase), i32.mul(get(i), i32c(8))), offset);

  // A_i = exp(s − max)·(1/Σ) into the scratch row, as the forward computed it (groups of 4, then the tail).
  const recompute: Code[] = [
    ...scores.pre,
    set(smax, stat(0)),
    set(ssum, stat(4)),
    set(vmax, f32x4.splat(get(smax))),
    set(vsum, f32x4.splat(get(ssum))),
    set(t, i32c(0)),
    set(kp, get(kPack)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(nk)),
      ...scores.dot4,
      set(s, f32x4.add(hadd4(acc, tmp1, tmp2), v128.load(f32At(biasRow, t)))),
      set(e1, f32x4.sub(get(s), get(vmax))),
      v128.store(f32At(arow, t), f32x4.mul(exp4(e1, e2, e3, tmp1), get(vsum))),
      addTo(t, i32c(4)),
      addTo(kp, i32c(4 * ps)),
    ),
    whileLoop(
      i32.ltS(get(t), get(nk)),
      set(s, scores.dot1),
      set(w, f32.add(hsum(s), f32.load(f32At(biasRow, t)))),
      set(e1, f32x4.splat(f32.sub(get(w), get(smax)))),
      f32.store(f32At(arow, t), f32.mul(f32x4.extract(exp4(e1, e2, e3, tmp1), 0), get(ssum))),
      addTo(t, i32c(1)),
      addTo(kp, i32c(ps)),
    ),
  ];
  // Loops over the keys that carry a head row handle at most four f32x4 columns per pass (see
  // ./attention-simd-rows.ts, halves): all eight plus the row they read spill on x86-64.
  const passes = halves(C);
  /** Row at dvp, columns c0 … c1 − 1: += ws·g. */
  const rowUpdate = (c0: number, c1: number): Code[] =>
    g
      .slice(c0, c1)
      .map((gc, u) =>
        v128.store(
          get(dvp),
          f32x4.add(v128.load(get(dvp), 16 * (c0 + u)), f32x4.mul(get(ws), get(gc))),
          16 * (c0 + u),
        ),
      );
  /** For every key t < nk, the row at dvp (from `start`, ps bytes apart) += weight(t)·g[c0 … c1). */
  const keyLoop = (start: number, c0: number, c1: number, weight: Code): Code[] =>
    overRows(t, nk, [[dvp, get(start), ps]], [set(ws, f32x4.splat(weight)), ...rowUpdate(c0, c1)]);
  /** f32 A_it·m_it (or A_it): the weight of v_t's gradient, as the forward applied it. */
  const maskedWeight: Code = dropout
    ? f32.mul(f32.load(f32At(arow, t)), f32.load(f32At(mrow, t)))
    : f32.load(f32At(arow, t));

  const perQuery: Code[] = [
    // keys 0 … nk − 1: all T, or 0 … i when causal (the weights above the diagonal are zero)
    set(nk, causal ? i32.add(get(i), i32c(1)) : get(NT)),
    ...recompute,
    ...pre,
    set(mrow, i32.add(get(mBase), i32.mul(get(i), get(t4)))),
    // pass 1: dA = m·(g·v_t) into scratch and Σ dA·A
    set(vrd, splat(0)),
    set(t, i32c(0)),
    set(vp, get(vPack)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(nk)),
      ...dot4,
      set(s, hadd4(acc, tmp1, tmp2)),
      set(av, v128.load(f32At(arow, t))),
      ...(dropout ? [set(s, f32x4.mul(get(s), v128.load(f32At(mrow, t))))] : []),
      v128.store(f32At(drow, t), get(s)),
      set(vrd, f32x4.add(get(vrd), f32x4.mul(get(s), get(av)))),
      addTo(t, i32c(4)),
      addTo(vp, i32c(4 * ps)),
    ),
    set(rd, hsum(vrd)),
    whileLoop(
      i32.ltS(get(t), get(nk)),
      set(s, dot1),
      set(dA, hsum(s)),
      set(ad, f32.load(f32At(arow, t))),
      set(
        rd,
        f32.add(get(rd), f32.mul(dropout ? f32.mul(get(dA), f32.load(f32At(mrow, t))) : get(dA), get(ad))),
      ),
      ...(dropout ? [set(dA, f32.mul(get(dA), f32.load(f32At(mrow, t))))] : []),
      f32.store(f32At(drow, t), get(dA)),
      addTo(t, i32c(1)),
      addTo(vp, i32c(ps)),
    ),
    // dv_t += A_it·m_it·g, g (dOut_i) reloaded per pass
    ...passes.flatMap(([c0, c1]) => [
      ...g.slice(c0, c1).map((gc, u) => set(gc, dOutRow(c0 + u))),
      ...keyLoop(dvPack, c0, c1, maskedWeight),
    ]),
    // pass 2: dS = A·(dA − Σ dA·A) in scratch
    set(vrd, f32x4.splat(get(rd))),
    set(t, i32c(0)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(nk)),
      v128.store(
        f32At(drow, t),
        f32x4.mul(v128.load(f32At(arow, t)), f32x4.sub(v128.load(f32At(drow, t)), get(vrd))),
      ),
      addTo(t, i32c(4)),
    ),
    whileLoop(
      i32.ltS(get(t), get(nk)),
      f32.store(
        f32At(drow, t),
        f32.mul(f32.load(f32At(arow, t)), f32.sub(f32.load(f32At(drow, t)), get(rd))),
      ),
      addTo(t, i32c(1)),
    ),
    // dq_i = c·Σ_t dS_t·k_t (g's locals reused as accumulators)
    ...passes.flatMap(([c0, c1]) => [
      ...g.slice(c0, c1).map((gc) => set(gc, splat(0))),
      set(t, i32c(0)),
      set(kp, get(kPack)),
      whileLoop(
        i32.ltS(get(t), get(nk)),
        set(ws, f32x4.splat(f32.load(f32At(drow, t)))),
        ...g
          .slice(c0, c1)
          .map((gc, u) => set(gc, f32x4.add(get(gc), f32x4.mul(get(ws), v128.load(get(kp), 16 * (c0 + u)))))),
        addTo(t, i32c(1)),
        addTo(kp, i32c(ps)),
      ),
    ]),
    ...g.map((gc, c) =>
      v128.store(
        i32.add(get(dBase), i32.mul(get(i), i32c(rs))),
        f32x4.mul(get(gc), f32x4.splat(get(SCALE))),
        16 * c,
      ),
    ),
    // dk_t += dS_t·(c·q_i)
    ...passes.flatMap(([c0, c1]) => [
      ...g.slice(c0, c1).map((gc, u) => set(gc, qRow(c0 + u))),
      ...keyLoop(dkPack, c0, c1, f32.load(f32At(drow, t))),
    ]),
  ];

  const body: Code[] = [
    set(t4, i32.mul(get(NT), i32c(4))),
    set(arow, get(SCR)),
    set(drow, i32.add(get(SCR), get(t4))),
    set(kPack, i32.add(get(drow), get(t4))),
    set(vPack, i32.add(get(kPack), i32.mul(get(NT), i32c(ps)))),
    set(dkPack, i32.add(get(vPack), i32.mul(get(NT), i32c(ps)))),
    set(dvPack, i32.add(get(dkPack), i32.mul(get(NT), i32c(ps)))),
    set(part, i32.add(get(dvPack), i32.mul(get(NT), i32c(ps)))),
    set(b, i32c(0)),
    whileLoop(
      i32.ltS(get(b), get(NB)),
      set(biasRow, i32.add(get(BIAS), i32.mul(get(b), get(t4)))),
      set(j, i32c(0)),
      whileLoop(
        i32.ltS(get(j), i32c(H)),
        set(qBase, i32.add(i32.mul(i32.mul(get(b), get(NT)), i32c(rs)), i32.mul(get(j), i32c(DH * 4)))),
        set(dBase, i32.add(get(DQKV), get(qBase))),
        set(qBase, i32.add(get(QKV), get(qBase))),
        set(
          gBase,
          i32.add(
            get(DOUT),
            i32.add(i32.mul(i32.mul(get(b), get(NT)), i32c(h4)), i32.mul(get(j), i32c(DH * 4))),
          ),
        ),
        ...headBases(H, { b, j, nt: NT, t4, mask: MASK, stats: STATS, mBase, sBase }),
        // this head's keys and values as contiguous [T, dh] copies, its dk and dv accumulators zeroed
        ...copyKeysValues(
          { numHeads: H, headDim: DH },
          {
            t,
            nt: NT,
            src: [src, get(qBase)],
            k: [kp, get(kPack)],
            v: [vp, get(vPack)],
            zeroed: [
              [dvp, get(dkPack)],
              [dz, get(dvPack)],
            ],
          },
        ),
        set(i, i32c(0)),
        whileLoop(i32.ltS(get(i), get(NT)), ...perQuery, addTo(i, i32c(1))),
        // dk and dv rows out to dqkv
        ...overRows(
          t,
          NT,
          [
            [src, get(dBase), rs],
            [kp, get(dkPack), ps],
            [vp, get(dvPack), ps],
          ],
          columns(C, (c) => [
            v128.store(get(src), v128.load(get(kp), 16 * c), h4 + 16 * c),
            v128.store(get(src), v128.load(get(vp), 16 * c), 2 * h4 + 16 * c),
          ]),
        ),
        addTo(j, i32c(1)),
      ),
      addTo(b, i32c(1)),
    ),
  ];
  return { fn, body };
}
