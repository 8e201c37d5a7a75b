/**
 * A minimal WebAssembly binary emitter: just the instructions ganpo's SIMD kernels use, so that the
 * kernels are built from TypeScript source at run time (no toolchain, nothing downloaded, nothing
 * compiled at install). Opcodes follow the WebAssembly core specification 2.0 and its fixed-width
 * SIMD proposal (binary encoding: https://webassembly.github.io/spec/core/binary/instructions.html).
 *
 * Code is a tree of byte arrays (`Code`), flattened when a function is finished: an instruction
 * helper takes its operands' code and appends its own opcode, so expressions read like the text
 * format's folded form, e.g. `f32x4.add(get(a), get(b))`.
 */

/** Instruction bytes, possibly nested. */
export type Code = number | Code[];

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function flatten(code: Code, out: number[] = []): number[] {
  if (typeof code === 'number') out.push(code);
  else for (const c of code) flatten(c, out);
  return out;
}

const simd = (op: number, ...operands: Code[]): Code => [operands, 0xfd, uleb(op)];
/** memarg: alignment exponent 2 (4-byte aligned rows; the hint never changes results) and byte offset. */
const memarg = (offset: number): number[] => [0x02, ...uleb(offset)];

// Locals and constants.
export const get = (i: number): Code => [0x20, uleb(i)];
export const set = (i: number, v: Code): Code => [v, 0x21, uleb(i)];
export const i32c = (n: number): Code => [0x41, sleb(n)];
export const f32c = (x: number): Code => [0x43, ...new Uint8Array(new Float32Array([x]).buffer)];

// Scalar instructions.
export const i32 = {
  load: (addr: Code, offset = 0): Code => [addr, 0x28, memarg(offset)],
  add: (a: Code, b: Code): Code => [a, b, 0x6a],
  sub: (a: Code, b: Code): Code => [a, b, 0x6b],
  mul: (a: Code, b: Code): Code => [a, b, 0x6c],
  divS: (a: Code, b: Code): Code => [a, b, 0x6d],
  ltS: (a: Code, b: Code): Code => [a, b, 0x48],
  leS: (a: Code, b: Code): Code => [a, b, 0x4c],
  eqz: (a: Code): Code => [a, 0x45],
  and: (a: Code, b: Code): Code => [a, b, 0x71],
};
/** `cond ? a : b` for two values of one numeric type (both evaluated). */
export const select = (a: Code, b: Code, cond: Code): Code => [a, b, cond, 0x1b];
export const f32 = {
  load: (addr: Code, offset = 0): Code => [addr, 0x2a, memarg(offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [addr, v, 0x38, memarg(offset)],
  add: (a: Code, b: Code): Code => [a, b, 0x92],
  sub: (a: Code, b: Code): Code => [a, b, 0x93],
  mul: (a: Code, b: Code): Code => [a, b, 0x94],
  div: (a: Code, b: Code): Code => [a, b, 0x95],
  max: (a: Code, b: Code): Code => [a, b, 0x97],
  sqrt: (a: Code): Code => [a, 0x91],
};

// SIMD instructions (f32x4 lanes, plus the integer ops exp() needs).
export const v128 = {
  load: (addr: Code, offset = 0): Code => [addr, 0xfd, uleb(0x00), memarg(offset)],
  /** v128.load32_splat: one float32 from memory in all four lanes. */
  load32Splat: (addr: Code, offset = 0): Code => [addr, 0xfd, uleb(0x09), memarg(offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [addr, v, 0xfd, uleb(0x0b), memarg(offset)],
  and: (a: Code, b: Code): Code => simd(0x4e, a, b),
  xor: (a: Code, b: Code): Code => simd(0x51, a, b),
  /** v128.const from four i32 lanes. */
  i32Const: (lanes: [number, number, number, number]): Code => [
    0xfd,
    uleb(0x0c),
    ...new Uint8Array(new Int32Array(lanes).buffer),
  ],
  /** i8x16.shuffle with 16 byte-lane indices (0–15 from a, 16–31 from b). */
  shuffle: (a: Code, b: Code, lanes: number[]): Code => [a, b, 0xfd, uleb(0x0d), lanes],
};
export const f32x4 = {
  splat: (x: Code): Code => simd(0x13, x),
  extract: (v: Code, lane: number): Code => [v, 0xfd, uleb(0x1f), lane],
  ge: (a: Code, b: Code): Code => simd(0x46, a, b),
  nearest: (a: Code): Code => simd(0x6a, a),
  add: (a: Code, b: Code): Code => simd(0xe4, a, b),
  sub: (a: Code, b: Code): Code => simd(0xe5, a, b),
  mul: (a: Code, b: Code): Code => simd(0xe6, a, b),
  div: (a: Code, b: Code): Code => simd(0xe7, a, b),
  sqrt: (a: Code): Code => simd(0xe3, a),
  min: (a: Code, b: Code): Code => simd(0xe8, a, b),
  max: (a: Code, b: Code): Code => simd(0xe9, a, b),
  /**
   * Pseudo-minimum b < a ? b : a and pseudo-maximum a < b ? b : a: one minps/maxps on x86, where
   * `min`/`max` (NaN-propagating, −0 < +0) take about eight instructions. A NaN in `a` comes out
   * unchanged.
   */
  pmin: (a: Code, b: Code): Code => simd(0xea, a, b),
  pmax: (a: Code, b: Code): Code => simd(0xeb, a, b),
  /**
   * f32x4.relaxed_madd(a, b, c) = a·b + c, fused or not as the engine chooses (relaxed SIMD proposal,
   * https://github.com/WebAssembly/relaxed-simd; opcode 0xfd 0x105). Only in modules built for a
   * measurement: engines without relaxed SIMD refuse the module.
   */
  relaxedMadd: (a: Code, b: Code, c: Code): Code => simd(0x105, a, b, c),
};
export const i32x4 = {
  splat: (x: Code): Code => simd(0x11, x),
  truncSatF32x4S: (a: Code): Code => simd(0xf8, a),
  shl: (a: Code, n: Code): Code => simd(0xab, a, n),
  add: (a: Code, b: Code): Code => simd(0xae, a, b),
  sub: (a: Code, b: Code): Code => simd(0xb1, a, b),
  shrU: (a: Code, n: Code): Code => simd(0xad, a, n),
  mul: (a: Code, b: Code): Code => simd(0xb5, a, b),
  geU: (a: Code, b: Code): Code => simd(0x40, a, b),
};

// Control flow. Blocks have no result; `br` depths count enclosing block/loop labels outward from 0.
export const block = (...body: Code[]): Code => [0x02, 0x40, body, 0x0b];
export const loop = (...body: Code[]): Code => [0x03, 0x40, body, 0x0b];
export const brIf = (depth: number, cond: Code): Code => [cond, 0x0d, uleb(depth)];
export const br = (depth: number): Code => [0x0c, uleb(depth)];
export const ifThen = (cond: Code, then: Code[], otherwise?: Code[]): Code =>
  otherwise ? [cond, 0x04, 0x40, then, 0x05, otherwise, 0x0b] : [cond, 0x04, 0x40, then, 0x0b];

/**
 * `while (cond) { body }` as block { loop { br_if !cond → exit; body; br loop } }. Inside `body`,
 * depth 0 is the loop (continue) and depth 1 the block (break).
 */
export const whileLoop = (cond: Code, ...body: Code[]): Code =>
  block(loop(brIf(1, i32.eqz(cond)), ...body, br(0)));

/** One function under construction: typed parameters, then locals allocated on demand. */
/** An f32x4 of four copies of the constant x. */
export const splat = (x: number): Code => f32x4.splat(f32c(x));
/** f32: the sum of the four lanes of the f32x4 in local v (lane order 0 + 1, 2 + 3, then the two). */
export const hsum = (v: number): Code =>
  f32.add(
    f32.add(f32x4.extract(get(v), 0), f32x4.extract(get(v), 1)),
    f32.add(f32x4.extract(get(v), 2), f32x4.extract(get(v), 3)),
  );
/** local += by (i32). */
export const addTo = (local: number, by: Code): Code => set(local, i32.add(get(local), by));
/** local += n for a constant n (i32). */
export const incBy = (local: number, n: number): Code => addTo(local, i32c(n));
/** The byte address of float32 element `index` (a local) of the array at byte address `base` (a local). */
export const f32At = (base: number, index: number): Code => i32.add(get(base), i32.mul(get(index), i32c(4)));

/** The space-separated words of a string literal type. */
type Words<S extends string> = S extends `${infer W} ${infer Rest}` ? W | Words<Rest> : S;

/** `n` i32 parameters: byte addresses and sizes, the leading parameters of every kernel here. */
export const pointers = (n: number): ValType[] => Array.from({ length: n }, () => I32);

export class FuncBuilder {
  private readonly locals: ValType[] = [];
  constructor(
    readonly name: string,
    readonly params: ValType[],
  ) {}
  /** A new local of type `t`; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }
  /**
   * New locals of type `t`, one per space-separated name, declared in the order of `names`; their
   * indices by name (`const { i, j } = fn.named(I32, 'i j')`).
   */
  named<S extends string>(t: ValType, names: S): Record<Words<S>, number> {
    const out = {} as Record<string, number>;
    for (const n of names.split(' ')) out[n] = this.local(t);
    return out as Record<Words<S>, number>;
  }
  /** Function body bytes: size, local declarations as (count, type) runs, code, end. */
  encode(body: Code[]): number[] {
    const runs: number[][] = [];
    let i = 0;
    while (i < this.locals.length) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      runs.push([...uleb(j - i), this.locals[i] as number]);
      i = j;
    }
    const bytes = [...uleb(runs.length), ...runs.flat(), ...flatten(body), 0x0b];
    return [...uleb(bytes.length), ...bytes];
  }
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

/**
 * A module that imports `env.memory` (the memory of the wasm backend, so kernels read and write
 * tensors in place) and exports `funcs`, none of which return a value. `sharedMemory`: the import is
 * a shared memory of at most 65 536 pages (the threaded build's memory), else unshared, no maximum.
 */
export function buildModule(funcs: { fn: FuncBuilder; body: Code[] }[], sharedMemory = false): Uint8Array {
  const limits = sharedMemory ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00];
  const types = funcs.flatMap(({ fn }) => [0x60, ...uleb(fn.params.length), ...fn.params, 0x00]);
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [...uleb(funcs.length), ...types]),
    // import "env" "memory" (memory, limits)
    ...section(2, [...uleb(1), ...name('env'), ...name('memory'), 0x02, ...limits]),
    ...section(3, [...uleb(funcs.length), ...funcs.flatMap((_, i) => uleb(i))]),
    ...section(7, [
      ...uleb(funcs.length),
      ...funcs.flatMap(({ fn }, i) => [...name(fn.name), 0x00, ...uleb(i)]),
    ]),
    ...section(10, [...uleb(funcs.length), ...funcs.flatMap(({ fn, body }) => fn.encode(body))]),
  ];
  return new Uint8Array(bytes);
}
