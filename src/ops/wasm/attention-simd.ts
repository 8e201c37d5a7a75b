/**
 * WebAssembly SIMD code for the scaled-dot-product core of multi-head self-attention, forward and
 * backward, one call per layer and direction. Built by ./emit.ts for one (numHeads, headDim) pair, so
 * strides are immediates and a head's query/output/gradient row (headDim floats) lives in headDim/4
 * vector locals.
 *
 * Layouts (row-major float32, byte addresses into the backend's memory):
 * - qkv [B·T, 3h] (h = H·dh): row (b, t) is [q | k | v], head j at columns j·dh … j·dh + dh − 1 of
 *   each part (PyTorch's in_proj layout). No per-head copies: the kernel strides through it.
 * - keyBias [B, T] additive (0 or −1e9), weights A [B, H, T, T] (softmax output, before dropout),
 *   dropout mask [B, H, T, T] (0 or 1/(1 − p)), out [B·T, h], dOut [B·T, h], dqkv [B·T, 3h].
 *
 * Forward per (b, j, query i): s_t = (c·q_i)·k_t + keyBias[b, t] (c = 1/√dh, q scaled first like
 * PyTorch), A_i = softmax(s) (max-shifted), out_i = Σ_t A_it·m_it·v_t.
 * Backward per (b, j, i): dA_it = m_it·(dOut_i·v_t), dv_t += A_it·m_it·dOut_i,
 * dS_it = A_it·(dA_it − Σ_t dA_it·A_it), dq_i = c·Σ_t dS_it·k_t, dk_t += dS_it·(c·q_i).
 *
 * exp is ./simd-math.ts's exp4; inputs below −87.34 (masked keys: −1e9) give exactly 0, as float32
 * exp underflows.
 */
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
  set,
  splat,
  V128,
  v128,
  whileLoop,
} from './emit';
import { exp4 } from './simd-math';

const lanes = (ls: number[]): number[] => ls.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
const hmax = (v: number): Code =>
  f32.max(
    f32.max(f32x4.extract(get(v), 0), f32x4.extract(get(v), 1)),
    f32.max(f32x4.extract(get(v), 2), f32x4.extract(get(v), 3)),
  );

/** Four vectors a0…a3 → [Σa0, Σa1, Σa2, Σa3] with shuffles (locals tmp1, tmp2 are scratch). */
function hadd4(acc: number[], tmp1: number, tmp2: number): Code {
  const [a0, a1, a2, a3] = acc as [number, number, number, number];
  const pairSum = (x: number, y: number): Code =>
    f32x4.add(
      v128.shuffle(get(x), get(y), lanes([0, 4, 1, 5])),
      v128.shuffle(get(x), get(y), lanes([2, 6, 3, 7])),
    );
  return [
    set(tmp1, pairSum(a0, a1)),
    set(tmp2, pairSum(a2, a3)),
    f32x4.add(
      v128.shuffle(get(tmp1), get(tmp2), lanes([0, 1, 4, 5])),
      v128.shuffle(get(tmp1), get(tmp2), lanes([2, 3, 6, 7])),
    ),
  ];
}

interface Geometry {
  numHeads: number;
  headDim: number;
}

function forward({ numHeads: H, headDim: DH }: Geometry, dropout: boolean) {
  const C = DH / 4;
  const h4 = H * DH * 4;
  const rs = 3 * h4;
  // params: qkv, keyBias, mask, weights, out, B, T, scale
  const fn = new FuncBuilder(dropout ? 'forwardDropout' : 'forward', [
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    F32,
  ]);
  const [QKV, BIAS, MASK, A, OUT, NB, NT, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const L = (): number => fn.local(I32);
  const b = L();
  const j = L();
  const i = L();
  const t = L();
  const biasRow = L();
  const qBase = L();
  const aBase = L();
  const mBase = L();
  const oBase = L();
  const srow = L();
  const mrow = L();
  const kp = L();
  const vp = L();
  const t4 = L();
  const [smax, ssum, w] = [fn.local(F32), fn.local(F32), fn.local(F32)];
  const V = (): number => fn.local(V128);
  const q = Array.from({ length: C }, V);
  const o = Array.from({ length: C }, V);
  const acc = Array.from({ length: 4 }, V);
  const s = V();
  const vmax = V();
  const vsum = V();
  const e1 = V();
  const e2 = V();
  const e3 = V();
  const tmp1 = V();
  const tmp2 = V();

  const { dot4, dot1 } = rowDots(q, kp, rs, acc);

  const perQuery: Code[] = [
    ...q.map((qc, c) =>
      set(
        qc,
        f32x4.mul(v128.load(i32.add(get(qBase), i32.mul(get(i), i32c(rs))), 16 * c), f32x4.splat(get(SCALE))),
      ),
    ),
    set(srow, i32.add(get(aBase), i32.mul(get(i), get(t4)))),
    set(mrow, i32.add(get(mBase), i32.mul(get(i), get(t4)))),
    // scores, four keys at a time, then the tail
    set(vmax, splat(-3.4e38)),
    set(t, i32c(0)),
    set(kp, i32.add(get(qBase), i32c(h4))),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(NT)),
      ...dot4,
      set(s, f32x4.add(hadd4(acc, tmp1, tmp2), v128.load(f32At(biasRow, t)))),
      v128.store(f32At(srow, t), get(s)),
      set(vmax, f32x4.max(get(vmax), get(s))),
      addTo(t, i32c(4)),
      addTo(kp, i32c(4 * rs)),
    ),
    set(smax, hmax(vmax)),
    whileLoop(
      i32.ltS(get(t), get(NT)),
      set(s, dot1),
      set(w, f32.add(hsum(s), f32.load(f32At(biasRow, t)))),
      f32.store(f32At(srow, t), get(w)),
      set(smax, f32.max(get(smax), get(w))),
      addTo(t, i32c(1)),
      addTo(kp, i32c(rs)),
    ),
    // exp(s − max) and its sum
    set(vmax, f32x4.splat(get(smax))),
    set(vsum, splat(0)),
    set(t, i32c(0)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(NT)),
      set(e1, f32x4.sub(v128.load(f32At(srow, t)), get(vmax))),
      set(s, exp4(e1, e2, e3, tmp1)),
      v128.store(f32At(srow, t), get(s)),
      set(vsum, f32x4.add(get(vsum), get(s))),
      addTo(t, i32c(4)),
    ),
    set(ssum, hsum(vsum)),
    whileLoop(
      i32.ltS(get(t), get(NT)),
      set(e1, f32x4.splat(f32.sub(f32.load(f32At(srow, t)), get(smax)))),
      set(w, f32x4.extract(exp4(e1, e2, e3, tmp1), 0)),
      f32.store(f32At(srow, t), get(w)),
      set(ssum, f32.add(get(ssum), get(w))),
      addTo(t, i32c(1)),
    ),
    set(ssum, f32.div(f32c(1), get(ssum))),
    set(vsum, f32x4.splat(get(ssum))),
    set(t, i32c(0)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(NT)),
      v128.store(f32At(srow, t), f32x4.mul(v128.load(f32At(srow, t)), get(vsum))),
      addTo(t, i32c(4)),
    ),
    whileLoop(
      i32.ltS(get(t), get(NT)),
      f32.store(f32At(srow, t), f32.mul(f32.load(f32At(srow, t)), get(ssum))),
      addTo(t, i32c(1)),
    ),
    // out_i = Σ_t A_it·m_it·v_t
    ...o.map((oc) => set(oc, splat(0))),
    set(t, i32c(0)),
    set(vp, i32.add(get(qBase), i32c(2 * h4))),
    whileLoop(
      i32.ltS(get(t), get(NT)),
      set(
        s,
        f32x4.splat(
          dropout ? f32.mul(f32.load(f32At(srow, t)), f32.load(f32At(mrow, t))) : f32.load(f32At(srow, t)),
        ),
      ),
      ...o.map((oc, c) => set(oc, f32x4.add(get(oc), f32x4.mul(get(s), v128.load(get(vp), 16 * c))))),
      addTo(t, i32c(1)),
      addTo(vp, i32c(rs)),
    ),
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
        // (b·H + j)·T·T·4
        set(aBase, i32.mul(i32.mul(i32.add(i32.mul(get(b), i32c(H)), get(j)), get(NT)), get(t4))),
        set(mBase, i32.add(get(MASK), get(aBase))),
        set(aBase, i32.add(get(A), get(aBase))),
        set(i, i32c(0)),
        whileLoop(i32.ltS(get(i), get(NT)), ...perQuery, addTo(i, i32c(1))),
        addTo(j, i32c(1)),
      ),
      addTo(b, i32c(1)),
    ),
  ];
  return { fn, body };
}

function backward({ numHeads: H, headDim: DH }: Geometry, dropout: boolean) {
  const C = DH / 4;
  const h4 = H * DH * 4;
  const rs = 3 * h4;
  // params: qkv, weights, mask, dOut, dqkv (zeroed by the caller), scratch [T], B, T, scale
  const fn = new FuncBuilder(dropout ? 'backwardDropout' : 'backward', [
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    F32,
  ]);
  const [QKV, A, MASK, DOUT, DQKV, SCR, NB, NT, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const L = (): number => fn.local(I32);
  const b = L();
  const j = L();
  const i = L();
  const t = L();
  const qBase = L();
  const dBase = L();
  const gBase = L();
  const aBase = L();
  const mBase = L();
  const arow = L();
  const mrow = L();
  const kp = L();
  const vp = L();
  const dvp = L();
  const t4 = L();
  const [rd, dA, ad] = [fn.local(F32), fn.local(F32), fn.local(F32)];
  const V = (): number => fn.local(V128);
  const g = Array.from({ length: C }, V);
  const acc = Array.from({ length: 4 }, V);
  const s = V();
  const av = V();
  const vrd = V();
  const adv = V();
  const ws = V();
  const tmp1 = V();
  const tmp2 = V();

  const { dot4, dot1 } = rowDots(g, vp, rs, acc);
  // dv row at dvp + off += ws·g
  const dvUpdate = (off: number): Code[] =>
    g.map((gc, c) =>
      v128.store(
        get(dvp),
        f32x4.add(v128.load(get(dvp), off + 16 * c), f32x4.mul(get(ws), get(gc))),
        off + 16 * c,
      ),
    );

  const perQuery: Code[] = [
    ...g.map((gc, c) => set(gc, v128.load(i32.add(get(gBase), i32.mul(get(i), i32c(h4))), 16 * c))),
    set(arow, i32.add(get(aBase), i32.mul(get(i), get(t4)))),
    set(mrow, i32.add(get(mBase), i32.mul(get(i), get(t4)))),
    // pass 1: dA = m·(g·v_t) into scratch, Σ dA·A, and dv_t += A·m·g
    set(vrd, splat(0)),
    set(t, i32c(0)),
    set(vp, i32.add(get(qBase), i32c(2 * h4))),
    set(dvp, i32.add(get(dBase), i32c(2 * h4))),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(NT)),
      ...dot4,
      set(s, hadd4(acc, tmp1, tmp2)),
      set(av, v128.load(f32At(arow, t))),
      ...(dropout
        ? [
            set(tmp1, v128.load(f32At(mrow, t))),
            set(s, f32x4.mul(get(s), get(tmp1))),
            set(adv, f32x4.mul(get(av), get(tmp1))),
          ]
        : [set(adv, get(av))]),
      v128.store(f32At(SCR, t), get(s)),
      set(vrd, f32x4.add(get(vrd), f32x4.mul(get(s), get(av)))),
      ...[0, 1, 2, 3].flatMap((u) => [set(ws, f32x4.splat(f32x4.extract(get(adv), u))), ...dvUpdate(u * rs)]),
      addTo(t, i32c(4)),
      addTo(vp, i32c(4 * rs)),
      addTo(dvp, i32c(4 * rs)),
    ),
    set(rd, hsum(vrd)),
    whileLoop(
      i32.ltS(get(t), get(NT)),
      set(s, dot1),
      set(dA, hsum(s)),
      set(ad, f32.load(f32At(arow, t))),
      set(
        rd,
        f32.add(get(rd), f32.mul(dropout ? f32.mul(get(dA), f32.load(f32At(mrow, t))) : get(dA), get(ad))),
      ),
      ...(dropout
        ? [
            set(dA, f32.mul(get(dA), f32.load(f32At(mrow, t)))),
            set(ad, f32.mul(get(ad), f32.load(f32At(mrow, t)))),
          ]
        : []),
      f32.store(f32At(SCR, t), get(dA)),
      set(ws, f32x4.splat(get(ad))),
      ...dvUpdate(0),
      addTo(t, i32c(1)),
      addTo(vp, i32c(rs)),
      addTo(dvp, i32c(rs)),
    ),
    // pass 2: dS = A·(dA − Σ dA·A) in scratch
    set(vrd, f32x4.splat(get(rd))),
    set(t, i32c(0)),
    whileLoop(
      i32.leS(i32.add(get(t), i32c(4)), get(NT)),
      v128.store(
        f32At(SCR, t),
        f32x4.mul(v128.load(f32At(arow, t)), f32x4.sub(v128.load(f32At(SCR, t)), get(vrd))),
      ),
      addTo(t, i32c(4)),
    ),
    whileLoop(
      i32.ltS(get(t), get(NT)),
      f32.store(f32At(SCR, t), f32.mul(f32.load(f32At(arow, t)), f32.sub(f32.load(f32At(SCR, t)), get(rd)))),
      addTo(t, i32c(1)),
    ),
    // dq_i = c·Σ_t dS_t·k_t (g's locals reused as accumulators)
    ...g.map((gc) => set(gc, splat(0))),
    set(t, i32c(0)),
    set(kp, i32.add(get(qBase), i32c(h4))),
    whileLoop(
      i32.ltS(get(t), get(NT)),
      set(ws, f32x4.splat(f32.load(f32At(SCR, t)))),
      ...g.map((gc, c) => set(gc, f32x4.add(get(gc), f32x4.mul(get(ws), v128.load(get(kp), 16 * c))))),
      addTo(t, i32c(1)),
      addTo(kp, i32c(rs)),
    ),
    ...g.map((gc, c) =>
      v128.store(
        i32.add(get(dBase), i32.mul(get(i), i32c(rs))),
        f32x4.mul(get(gc), f32x4.splat(get(SCALE))),
        16 * c,
      ),
    ),
    // dk_t += dS_t·(c·q_i)
    ...g.map((gc, c) =>
      set(
        gc,
        f32x4.mul(v128.load(i32.add(get(qBase), i32.mul(get(i), i32c(rs))), 16 * c), f32x4.splat(get(SCALE))),
      ),
    ),
    set(t, i32c(0)),
    set(dvp, i32.add(get(dBase), i32c(h4))),
    whileLoop(
      i32.ltS(get(t), get(NT)),
      set(ws, f32x4.splat(f32.load(f32At(SCR, t)))),
      ...dvUpdate(0),
      addTo(t, i32c(1)),
      addTo(dvp, i32c(rs)),
    ),
  ];

  const body: Code[] = [
    set(t4, i32.mul(get(NT), i32c(4))),
    set(b, i32c(0)),
    whileLoop(
      i32.ltS(get(b), get(NB)),
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
        set(aBase, i32.mul(i32.mul(i32.add(i32.mul(get(b), i32c(H)), get(j)), get(NT)), get(t4))),
        set(mBase, i32.add(get(MASK), get(aBase))),
        set(aBase, i32.add(get(A), get(aBase))),
        set(i, i32c(0)),
        whileLoop(i32.ltS(get(i), get(NT)), ...perQuery, addTo(i, i32c(1))),
        addTo(j, i32c(1)),
      ),
      addTo(b, i32c(1)),
    ),
  ];
  return { fn, body };
}

/** The module's exports (byte addresses into the imported memory; `scale` = 1/√dh). */
export interface AttentionSimdExports {
  forward(
    qkv: number,
    keyBias: number,
    mask: number,
    weights: number,
    out: number,
    B: number,
    T: number,
    scale: number,
  ): void;
  forwardDropout(
    qkv: number,
    keyBias: number,
    mask: number,
    weights: number,
    out: number,
    B: number,
    T: number,
    scale: number,
  ): void;
  backward(
    qkv: number,
    weights: number,
    mask: number,
    dOut: number,
    dqkv: number,
    scratch: number,
    B: number,
    T: number,
    scale: number,
  ): void;
  backwardDropout(
    qkv: number,
    weights: number,
    mask: number,
    dOut: number,
    dqkv: number,
    scratch: number,
    B: number,
    T: number,
    scale: number,
  ): void;
}

/** Module bytes for `numHeads` heads of `headDim` (a multiple of 4). */
export function attentionSimdModule(geometry: Geometry, sharedMemory = false): Uint8Array {
  return buildModule(
    [forward(geometry, false), forward(geometry, true), backward(geometry, false), backward(geometry, true)],
    sharedMemory,
  );
}

/**
 * Code for the dot products of the C-vector row held in `vecs` with the rows at local `ptr`: four
 * rows `rs` bytes apart into `acc` (`dot4`), and the single row at `ptr` as an expression (`dot1`).
 */
function rowDots(vecs: number[], ptr: number, rs: number, acc: number[]): { dot4: Code[]; dot1: Code } {
  const dotAt = (offset: number): Code => {
    let sum: Code = f32x4.mul(get(vecs[0] as number), v128.load(get(ptr), offset));
    for (let c = 1; c < vecs.length; c++)
      sum = f32x4.add(sum, f32x4.mul(get(vecs[c] as number), v128.load(get(ptr), offset + 16 * c)));
    return sum;
  };
  return { dot4: acc.map((a, u) => set(a, dotAt(u * rs))), dot1: dotAt(0) };
}
