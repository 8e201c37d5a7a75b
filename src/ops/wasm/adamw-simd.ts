/**
 * WebAssembly SIMD code for one AdamW update of a float32 parameter, in one pass over p, g, m, v
 * (tfjs runs ~14 element-wise kernels for the same formulas). The operations and their order are
 * those of `AdamW.step` (torch 1.13's `_single_tensor_adamw`), each rounded to float32 as the
 * tfjs kernels round them, so the results are the same floats:
 *
 *   p' = (decay ? p·c : p) + (m'·(−s)) / (√v' / b + ε),  m' = m·β1 + g·(1 − β1),
 *   v' = v·β2 + (g·(1 − β2))·g
 *
 * with c = 1 − α·λ, s = α / (1 − β1^t), b = √(1 − β2^t) passed as float32 scalars. Four elements per
 * f32x4, then the last n mod 4 one at a time (scalar float32 ops round the same way).
 */
import {
  buildModule,
  type Code,
  F32,
  FuncBuilder,
  f32,
  f32x4,
  get,
  I32,
  i32,
  i32c,
  ifThen,
  set,
  type ValType,
  v128,
  whileLoop,
} from './emit';

/** Operation on f32x4 or scalar f32 values: the same formula written once for both widths. */
interface Ops {
  load: (addr: Code) => Code;
  store: (addr: Code, v: Code) => Code;
  add: (a: Code, b: Code) => Code;
  mul: (a: Code, b: Code) => Code;
  div: (a: Code, b: Code) => Code;
  sqrt: (a: Code) => Code;
  scalar: (param: number) => Code;
}

const VECTOR: Ops = {
  load: (a) => v128.load(a),
  store: (a, v) => v128.store(a, v),
  add: f32x4.add,
  mul: f32x4.mul,
  div: f32x4.div,
  sqrt: f32x4.sqrt,
  scalar: (i) => f32x4.splat(get(i)),
};
const SCALAR: Ops = {
  load: (a) => f32.load(a),
  store: (a, v) => f32.store(a, v),
  add: f32.add,
  mul: f32.mul,
  div: f32.div,
  sqrt: f32.sqrt,
  scalar: (i) => get(i),
};

function adamw() {
  // params: p, g, m, v, outP, outM, outV (byte addresses), n, decay (0/1),
  //         c, β1, 1−β1, β2, 1−β2, b, ε, −s (float32)
  const params: ValType[] = [...Array<ValType>(9).fill(I32), ...Array<ValType>(8).fill(F32)];
  const fn = new FuncBuilder('adamw', params);
  const [P, G, M, V, OP, OM, OV, N, DECAY] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [C, B1, OMB1, B2, OMB2, BC2, EPS, NEG_STEP] = [9, 10, 11, 12, 13, 14, 15, 16];
  const k = fn.local(I32);
  const n4 = fn.local(I32);
  const at = (base: number): Code => i32.add(get(base), i32.mul(get(k), i32c(4)));
  // m' and v' are stored first and read back (float32 either way); p' reads its p from `pBase`:
  // outP already holding p·c under decay, else p.
  const update = (o: Ops, pBase: number): Code[] => {
    const g = o.load(at(G));
    return [
      o.store(at(OM), o.add(o.mul(o.load(at(M)), o.scalar(B1)), o.mul(g, o.scalar(OMB1)))),
      o.store(at(OV), o.add(o.mul(o.load(at(V)), o.scalar(B2)), o.mul(o.mul(g, o.scalar(OMB2)), g))),
      o.store(
        at(OP),
        o.add(
          o.load(at(pBase)),
          o.div(
            o.mul(o.load(at(OM)), o.scalar(NEG_STEP)),
            o.add(o.div(o.sqrt(o.load(at(OV))), o.scalar(BC2)), o.scalar(EPS)),
          ),
        ),
      ),
    ];
  };
  const pass = (o: Ops, width: number, end: Code): Code =>
    whileLoop(
      i32.ltS(get(k), end),
      ifThen(
        get(DECAY),
        [o.store(at(OP), o.mul(o.load(at(P)), o.scalar(C))), ...update(o, OP)],
        update(o, P),
      ),
      set(k, i32.add(get(k), i32c(width))),
    );
  const body: Code[] = [
    set(n4, i32.mul(i32.divS(get(N), i32c(4)), i32c(4))),
    set(k, i32c(0)),
    pass(VECTOR, 4, get(n4)),
    pass(SCALAR, 1, get(N)),
  ];
  return { fn, body };
}

/** The module's exports. */
export interface AdamWSimdExports {
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    outP: number,
    outM: number,
    outV: number,
    n: number,
    decay: number,
    c: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    biasCorrection2Sqrt: number,
    epsilon: number,
    negStepSize: number,
  ): void;
}

/** Module bytes. */
export function adamwSimdModule(sharedMemory = false): Uint8Array {
  return buildModule([adamw()], sharedMemory);
}
