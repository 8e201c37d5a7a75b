/**
 * murmur3's 32-bit finaliser (`fmix32`, Appleby's MurmurHash3): a bijection on 32-bit integers
 * that spreads every input bit over the output. The counter-based dropout stream and the seeded
 * data order both hash with it.
 */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The salt added to a counter's high word before hashing (see `CounterStream` in ops/dropout.ts). */
export const HIGH_WORD_SALT = 0x632be5ab;
