/**
 * Row-level helpers shared by the forward (./attention-simd.ts) and backward
 * (./attention-simd-backward.ts) attention kernels: horizontal sums and maxima of f32x4 locals, and
 * the dot products of a query/gradient row held in vector locals with rows of the packed qkv matrix.
 */
import { addTo, type Code, f32, f32x4, get, i32, i32c, set, v128, whileLoop } from './emit';

/**
 * Heads and head width of one attention module (strides become immediates), and whether query i
 * attends to keys 0…i only (`causal`: the loops over keys stop at i, the weights above the diagonal
 * are written as zeros).
 */
export interface Geometry {
  numHeads: number;
  headDim: number;
  causal?: boolean;
}

export const lanes = (ls: number[]): number[] => ls.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
export const hmax = (v: number): Code =>
  f32.max(
    f32.max(f32x4.extract(get(v), 0), f32x4.extract(get(v), 1)),
    f32.max(f32x4.extract(get(v), 2), f32x4.extract(get(v), 3)),
  );

/** Four vectors a0…a3 → [Σa0, Σa1, Σa2, Σa3] with shuffles (locals tmp1, tmp2 are scratch). */
export function hadd4(acc: number[], tmp1: number, tmp2: number): Code {
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

/** Where {@link rowDots} finds the row, the keys and its scratch. */
export interface RowDotsArgs {
  /** C vector locals for the row's column groups (one pass's four at most are live at a time). */
  vecs: number[];
  /** The row's column group c as an f32x4, from memory. */
  load: (c: number) => Code;
  /** Local holding the address of key row t (advanced by the loops). */
  ptr: number;
  /** ptr's value at key 0. */
  start: Code;
  /** Bytes between key rows. */
  stride: number;
  /** Four vector locals: the dot products of four keys. */
  acc: number[];
  /** Address of a scratch row of 4·T floats: each key's partial sums between passes. */
  part: Code;
  /** Locals: the key index and the number of keys. */
  t: number;
  nk: number;
  /**
   * Split the columns into passes of four (default true). The forward kernel's score loop holds
   * little else and runs faster in one pass; the backward kernel's spills without the split.
   */
  split?: boolean;
}

/**
 * Code for the dot products of a C-vector row with key rows, each Σ_c row_c·key_c summed lane-wise in
 * c order (the horizontal sum is the caller's). When C > 4 and `split` the column groups are split
 * into passes of four (`halves`), so that a loop holds four row vectors and four
 * accumulators, not eight and four (V8 allocates 16 vector registers on x86-64 and spilled these):
 * `pre` runs every pass but the last over all nk keys, leaving each key's partial sums in `part`;
 * `dot4` (four keys at ptr, `stride` apart, into `acc`) and `dot1` (the key at ptr, an expression)
 * finish the last pass, to be run by the caller's loop from key 0 with ptr = start. The sums are
 * formed in the same order as in one pass, so the floats do not depend on the split.
 */
export function rowDots(a: RowDotsArgs): { pre: Code[]; dot4: Code[]; dot1: Code } {
  const { vecs, load, ptr, start, stride, acc, part, t, nk } = a;
  const passes: [number, number][] = a.split === false ? [[0, vecs.length]] : halves(vecs.length);
  const partAt = (u: number): Code => v128.load(i32.add(part, i32.mul(get(t), i32c(16))), 16 * u);
  /** Σ over the pass's columns for the key at ptr + offset, continuing the key's partial sums. */
  const sumAt = (p: number, u: number, offset: number): Code => {
    const [c0, c1] = passes[p] as [number, number];
    let sum: Code | null = p === 0 ? null : partAt(u);
    for (let c = c0; c < c1; c++) {
      const term = f32x4.mul(get(vecs[c] as number), v128.load(get(ptr), offset + 16 * c));
      sum = sum === null ? term : f32x4.add(sum, term);
    }
    return sum as Code;
  };
  const loadPass = (p: number): Code[] => {
    const [c0, c1] = passes[p] as [number, number];
    return vecs.slice(c0, c1).map((v, u) => set(v, load(c0 + u)));
  };
  const storePart = (u: number, v: Code): Code =>
    v128.store(i32.add(part, i32.mul(get(t), i32c(16))), v, 16 * u);
  const pre: Code[] = [];
  for (let p = 0; p < passes.length - 1; p++) {
    pre.push(
      ...loadPass(p),
      set(t, i32c(0)),
      set(ptr, start),
      whileLoop(
        i32.leS(i32.add(get(t), i32c(4)), get(nk)),
        ...acc.map((x, u) => set(x, sumAt(p, u, u * stride))),
        ...acc.map((x, u) => storePart(u, get(x))),
        addTo(t, i32c(4)),
        addTo(ptr, i32c(4 * stride)),
      ),
      whileLoop(
        i32.ltS(get(t), get(nk)),
        storePart(0, sumAt(p, 0, 0)),
        addTo(t, i32c(1)),
        addTo(ptr, i32c(stride)),
      ),
    );
  }
  const last = passes.length - 1;
  pre.push(...loadPass(last));
  return {
    pre,
    dot4: acc.map((x, u) => set(x, sumAt(last, u, u * stride))),
    dot1: sumAt(last, 0, 0),
  };
}

/**
 * Code setting the per-(sequence b, head j) bases of the dropout mask [B, H, T, T] and the softmax
 * stats [B, H, T, 2]: mBase = mask + (b·H + j)·T·T·4, sBase = stats + (b·H + j)·T·8 (all locals or
 * parameters; `t4` holds T·4).
 */
export function headBases(
  H: number,
  locals: {
    b: number;
    j: number;
    nt: number;
    t4: number;
    mask: number;
    stats: number;
    mBase: number;
    sBase: number;
  },
): Code[] {
  const { b, j, nt, t4, mask, stats, mBase, sBase } = locals;
  const rowsBefore = i32.mul(i32.add(i32.mul(get(b), i32c(H)), get(j)), get(nt));
  return [
    set(mBase, i32.add(get(mask), i32.mul(rowsBefore, get(t4)))),
    set(sBase, i32.add(get(stats), i32.mul(rowsBefore, i32c(8)))),
  ];
}

/**
 * The column groups 0 … C − 1 of a head row in passes of at most four f32x4 ([start, end) pairs):
 * a loop carrying eight vector accumulators plus the row it reads needs more than the 16 vector
 * registers V8 allocates on x86-64, and spills an accumulator.
 */
export function halves(C: number): [number, number][] {
  const out: [number, number][] = [];
  for (let c = 0; c < C; c += 4) out.push([c, Math.min(C, c + 4)]);
  return out;
}

/**
 * `for (t = 0; t < limit; t++) { body }` with each pointer local set to its start before the loop
 * and advanced by its stride (bytes) after each row: the walks over a head's rows (copies in and
 * out of scratch, per-key updates).
 */
export function overRows(
  t: number,
  limit: number,
  pointers: [local: number, start: Code, stride: number][],
  body: Code[],
): Code[] {
  return [
    ...pointers.map(([local, start]) => set(local, start)),
    set(t, i32c(0)),
    whileLoop(
      i32.ltS(get(t), get(limit)),
      ...body,
      ...pointers.map(([local, , stride]) => addTo(local, i32c(stride))),
      addTo(t, i32c(1)),
    ),
  ];
}

/** The code of `each(c)` for every column group c = 0 … C − 1, in order. */
export const columns = (C: number, each: (c: number) => Code[]): Code[] =>
  Array.from({ length: C }, (_, c) => each(c)).flat();

/** The locals {@link copyKeysValues} walks with, each pointer with its start. */
export interface HeadCopy {
  /** Locals: the row index and the row count T. */
  t: number;
  nt: number;
  /** The head's first qkv row (its q part). */
  src: [number, Code];
  /** The key and value copies ([T, d_head] each). */
  k: [number, Code];
  v: [number, Code];
  /** More [T, d_head] rows to zero in the same walk (accumulators). */
  zeroed?: [number, Code][];
}

/**
 * Copies a head's keys and values from the packed qkv rows (3·h floats apart) into contiguous
 * [T, d_head] rows, and zeroes the `zeroed` rows: the kernels then walk keys d_head floats apart.
 */
export function copyKeysValues({ numHeads: H, headDim: DH }: Geometry, a: HeadCopy): Code[] {
  const [h4, ps] = [H * DH * 4, DH * 4];
  const zeroed = a.zeroed ?? [];
  const [src, kp, vp] = [a.src[0], a.k[0], a.v[0]];
  const walks: [number, Code, number][] = [
    [src, a.src[1], 3 * h4],
    [kp, a.k[1], ps],
    [vp, a.v[1], ps],
    ...zeroed.map(([l, start]): [number, Code, number] => [l, start, ps]),
  ];
  return overRows(
    a.t,
    a.nt,
    walks,
    columns(DH / 4, (c) => [
      v128.store(get(kp), v128.load(get(src), h4 + 16 * c), 16 * c),
      v128.store(get(vp), v128.load(get(src), 2 * h4 + 16 * c), 16 * c),
      ...zeroed.map(([l]) => v128.store(get(l), v128.i32Const([0, 0, 0, 0]), 16 * c)),
    ]),
  );
}
