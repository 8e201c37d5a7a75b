// A character tokenizer implementing ganpo's `Tokenizer` interface: the tokenizer of the examples'
// digit-string task and of the tests. User code, not library code.
import { GanpoError, type GanpoErrorCode, type Tokenizer } from 'ganpo';

/** A GanpoError in the library's wording: `"<where>: '<argument>' expected …, received …"`. */
const argumentError = (
  code: GanpoErrorCode,
  where: string,
  argument: string,
  expected: string,
  received: string,
) =>
  new GanpoError(code, `${where}: '${argument}' expected ${expected}, received ${received}`, {
    argument,
    expected,
    received,
  });

/** Serialisable form of a {@link CharTokenizer} (what `toJSON()` returns and `fromJSON()` reads). */
export interface CharTokenizerJSON {
  type: 'CharTokenizer';
  /** The alphabet's characters in id order (ids start after the four special tokens). */
  alphabet: string[];
  /** How `encode` treats characters outside the alphabet. */
  unknown: 'error' | 'unk';
}

/** Options of {@link CharTokenizer}. */
export interface CharTokenizerArgs {
  /**
   * The characters the tokenizer knows, as a string (split into Unicode code points) or an array of
   * single characters. Must be non-empty and without duplicates. Id `4 + i` is character `i`.
   */
  alphabet: string | readonly string[];
  /**
   * What `encode` does with a character outside the alphabet: `'error'` (default: a silently mapped
   * character would be invisible in a synthetic task, so failing loudly is the safer default) throws a
   * GanpoError; `'unk'` maps it to {@link CharTokenizer.unkId}.
   */
  unknown?: 'error' | 'unk';
}

/** Options of {@link CharTokenizer.encode}. */
export interface EncodeOptions {
  /** Prepend {@link CharTokenizer.bosId}. Default false (TRL adds no BOS for decoder-only models). */
  addBos?: boolean;
  /** Append {@link CharTokenizer.eosId}. Default false (the preference collator appends EOS itself). */
  addEos?: boolean;
}

/** Options of {@link CharTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop pad/bos/eos/unk ids instead of rendering them as `<pad>` etc. Default true. */
  skipSpecialTokens?: boolean;
  /** Stop at the first EOS id (the end of a generated answer). Default false. */
  stopAtEos?: boolean;
}

const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<unk>'] as const;

/**
 * A character-level tokenizer for examples and tests: one id per character of a fixed alphabet,
 * after four special tokens with fixed ids — `pad = 0`, `bos = 1`, `eos = 2`, `unk = 3` (the
 * layout of byte-level/char-level toy tokenizers such as nanoGPT's, with specials first so that
 * adding characters to an alphabet never moves them).
 *
 * Vocabulary size = 4 + alphabet length. Serialisable with `toJSON()` / `CharTokenizer.fromJSON()`.
 *
 * @example
 * ```ts
 * const tok = new CharTokenizer({ alphabet: '0123456789+=' });
 * tok.encode('12+3=', { addBos: true }); // [1, 5, 6, 14, 7, 15]
 * tok.decode([5, 6, 2]);                  // '12'
 * ```
 */
export class CharTokenizer implements Tokenizer {
  /** Id of the padding token (0). */
  readonly padId = 0;
  /** Id of the beginning-of-sequence token (1). */
  readonly bosId = 1;
  /** Id of the end-of-sequence token (2). */
  readonly eosId = 2;
  /** Id of the unknown-character token (3). */
  readonly unkId = 3;
  /** {@link Tokenizer.eosTokenId}: the EOS id (2). */
  readonly eosTokenId = 2;
  /** {@link Tokenizer.padTokenId}: the padding id (0). */
  readonly padTokenId = 0;
  /** {@link Tokenizer.bosTokenId}: the BOS id (1). */
  readonly bosTokenId = 1;
  /** The alphabet's characters in id order. */
  readonly alphabet: readonly string[];
  /** Vocabulary size: 4 special tokens + the alphabet. */
  readonly vocabSize: number;
  /** Treatment of characters outside the alphabet (see {@link CharTokenizerArgs.unknown}). */
  readonly unknown: 'error' | 'unk';
  private readonly toId: Map<string, number>;

  /** A tokenizer over `args.alphabet` (ids after the four special ids); see {@link CharTokenizerArgs}. */
  constructor(args: CharTokenizerArgs) {
    const where = 'CharTokenizer';
    if (args === null || typeof args !== 'object') {
      throw argumentError('INVALID_ARGUMENT', where, 'args', 'an options object', String(args));
    }
    const { alphabet, unknown = 'error' } = args;
    let chars: string[];
    if (typeof alphabet === 'string') chars = Array.from(alphabet);
    else if (Array.isArray(alphabet)) chars = [...alphabet];
    else {
      throw argumentError(
        'INVALID_OPTION',
        where,
        'alphabet',
        'a string or an array of characters',
        typeof alphabet,
      );
    }
    if (chars.length === 0) {
      throw argumentError('INVALID_OPTION', where, 'alphabet', 'at least one character', 'an empty alphabet');
    }
    const toId = new Map<string, number>();
    chars.forEach((c, i) => {
      if (typeof c !== 'string' || Array.from(c).length !== 1) {
        throw argumentError(
          'INVALID_OPTION',
          where,
          'alphabet',
          'single characters',
          `entry ${i} = ${JSON.stringify(c)}`,
        );
      }
      if (toId.has(c)) {
        throw argumentError('INVALID_OPTION', where, 'alphabet', 'distinct characters', `'${c}' twice`);
      }
      toId.set(c, SPECIAL_TOKENS.length + i);
    });
    if (unknown !== 'error' && unknown !== 'unk') {
      throw argumentError('INVALID_OPTION', where, 'unknown', "one of 'error' | 'unk'", String(unknown));
    }
    this.alphabet = Object.freeze(chars);
    this.vocabSize = SPECIAL_TOKENS.length + chars.length;
    this.unknown = unknown;
    this.toId = toId;
  }

  /** Encodes `text` character by character (Unicode code points), optionally with BOS / EOS. */
  encode(text: string, { addBos = false, addEos = false }: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw argumentError('INVALID_ARGUMENT', 'CharTokenizer.encode', 'text', 'a string', typeof text);
    }
    const ids: number[] = addBos ? [this.bosId] : [];
    for (const c of text) {
      const id = this.toId.get(c);
      if (id !== undefined) ids.push(id);
      else if (this.unknown === 'unk') ids.push(this.unkId);
      else {
        throw argumentError(
          'OUT_OF_RANGE',
          'CharTokenizer.encode',
          'text',
          'characters of the alphabet',
          `'${c}' (U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')})`,
        );
      }
    }
    if (addEos) ids.push(this.eosId);
    return ids;
  }

  /** Decodes ids back to text; special tokens are skipped by default. */
  decode(
    ids: ArrayLike<number>,
    { skipSpecialTokens = true, stopAtEos = false }: DecodeOptions = {},
  ): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw argumentError(
          'OUT_OF_RANGE',
          'CharTokenizer.decode',
          'ids',
          `integer ids in [0, ${this.vocabSize})`,
          `ids[${i}] = ${id}`,
        );
      }
      if (stopAtEos && id === this.eosId) break;
      if (id < SPECIAL_TOKENS.length) {
        if (!skipSpecialTokens) out += SPECIAL_TOKENS[id];
      } else {
        out += this.alphabet[id - SPECIAL_TOKENS.length];
      }
    }
    return out;
  }

  /** The token string of an id (`'<pad>'`, `'<bos>'`, `'<eos>'`, `'<unk>'` or the character). */
  idToToken(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw argumentError(
        'OUT_OF_RANGE',
        'CharTokenizer.idToToken',
        'id',
        `an integer in [0, ${this.vocabSize})`,
        String(id),
      );
    }
    return id < SPECIAL_TOKENS.length
      ? (SPECIAL_TOKENS[id] as string)
      : (this.alphabet[id - SPECIAL_TOKENS.length] as string);
  }

  /** A plain JSON object from which {@link CharTokenizer.fromJSON} rebuilds an identical tokenizer. */
  toJSON(): CharTokenizerJSON {
    return { type: 'CharTokenizer', alphabet: [...this.alphabet], unknown: this.unknown };
  }

  /** Rebuilds a tokenizer from {@link CharTokenizer.toJSON}'s output (or its JSON string). */
  static fromJSON(json: CharTokenizerJSON | string): CharTokenizer {
    let obj: unknown = json;
    if (typeof json === 'string') {
      try {
        obj = JSON.parse(json);
      } catch {
        throw new GanpoError('INVALID_FORMAT', "CharTokenizer.fromJSON: 'json' is not valid JSON", {
          argument: 'json',
          expected: 'a CharTokenizer JSON object',
          received: 'unparsable text',
        });
      }
    }
    const o = obj as Partial<CharTokenizerJSON> | null;
    if (o === null || typeof o !== 'object' || o.type !== 'CharTokenizer' || !Array.isArray(o.alphabet)) {
      throw argumentError(
        'INVALID_FORMAT',
        'CharTokenizer.fromJSON',
        'json',
        "{ type: 'CharTokenizer', alphabet: string[] }",
        o === null ? 'null' : typeof o === 'object' ? `an object with type ${String(o.type)}` : typeof o,
      );
    }
    return new CharTokenizer({ alphabet: o.alphabet, unknown: o.unknown ?? 'error' });
  }
}
