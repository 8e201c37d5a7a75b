/**
 * Row-level helpers shared by the forward (./attention-simd.ts) and backward
 * (./attention-simd-backward.ts) attention kernels: horizontal sums and maxima of f32x4 locals, and
 * the dot products of a query/gradient row held in vector locals with rows of the packed qkv matrix.
 */
import { type Code, f32, f32x4, get, i32, i32c, set, v128 } from './emit';

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

/**
 * Code for the dot products of the C-vector row held in `vecs` with the rows at local `ptr`: four
 * rows `rs` bytes apart into `acc` (`dot4`), and the single row at `ptr` as an expression (`dot1`).
 */
export function rowDots(
  vecs: number[],
  ptr: number,
  rs: number,
  acc: number[],
): { dot4: Code[]; dot1: Code } {
  const dotAt = (offset: number): Code => {
    let sum: Code = f32x4.mul(get(vecs[0] as number), v128.load(get(ptr), offset));
    for (let c = 1; c < vecs.length; c++)
      sum = f32x4.add(sum, f32x4.mul(get(vecs[c] as number), v128.load(get(ptr), offset + 16 * c)));
    return sum;
  };
  return { dot4: acc.map((a, u) => set(a, dotAt(u * rs))), dot1: dotAt(0) };
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
