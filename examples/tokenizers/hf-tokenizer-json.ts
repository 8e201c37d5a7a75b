// A `Tokenizer` adapter that reads a Hugging Face `tokenizer.json` holding a byte-level BPE model (the
// GPT-2 family: GPT-2, RoBERTa, Llama 3, Qwen 2, SmolLM...), with no dependency: the file's
// vocabulary, merges and added tokens are all it needs. It covers the common layout (a `ByteLevel`
// pre-tokenizer, alone or after a `Split` on a regex, no normalizer); anything else is refused by
// name rather than tokenized differently. For every other tokenizer.json, `@huggingface/tokenizers`
// on npm implements the whole format; wrapping it is the same dozen lines as `gpt-tokenizer.ts`.
//
// Chat templates in tokenizer_config.json are Jinja; this adapter takes the template as a function
// (`chatml` below renders the ChatML template of Qwen and SmolLM).
import { type ChatMessage, type ChatTemplateOptions, GanpoError, type Tokenizer } from 'ganpo';

/** The parts of tokenizer.json this adapter reads. */
interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  normalizer?: unknown;
  pre_tokenizer?: PreTokenizer | null;
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] };
}
type PreTokenizer =
  | { type: 'ByteLevel'; add_prefix_space?: boolean; use_regex?: boolean }
  | { type: 'Split'; pattern: { Regex?: string; String?: string }; behavior: string }
  | { type: 'Sequence'; pretokenizers: PreTokenizer[] };

/** GPT-2's pre-tokenization regex (what `ByteLevel` with `use_regex: true` splits on). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte ↔ printable-character table (bytes_to_unicode). */
function byteTable(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  }
  return table;
}

/** A chat template function: the ChatML layout (`<|im_start|>role\ncontent<|im_end|>\n`). */
export function chatml(messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
  const last = messages.length - 1;
  let out = '';
  messages.forEach((m, i) => {
    out += `<|im_start|>${m.role}\n${m.content}`;
    if (!(options.continueFinalMessage && i === last)) out += '<|im_end|>\n';
  });
  if (options.addGenerationPrompt) out += '<|im_start|>assistant\n';
  return out;
}

/** Options of {@link HfBpeTokenizer}: which added tokens play EOS / padding / BOS, and the chat template. */
export interface HfBpeTokenizerOptions {
  eosToken: string | null;
  padToken?: string | null;
  bosToken?: string | null;
  chatTemplate?: (messages: readonly ChatMessage[], options: ChatTemplateOptions) => string;
}

const unsupported = (what: string) =>
  new GanpoError(
    'INVALID_FORMAT',
    `HfBpeTokenizer: tokenizer.json ${what} is not supported by this adapter`,
    {
      argument: 'json',
      expected: 'a byte-level BPE tokenizer.json',
      received: what,
    },
  );

/** A byte-level BPE `tokenizer.json` through ganpo's {@link Tokenizer} interface. */
export class HfBpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly applyChatTemplate?: (messages: readonly ChatMessage[], options: ChatTemplateOptions) => string;
  private readonly vocab: Map<string, number>;
  private readonly idToToken: string[];
  private readonly ranks = new Map<string, number>();
  private readonly added = new Map<string, number>();
  private readonly addedRe: RegExp | null;
  private readonly split: RegExp;
  private readonly prefixSpace: boolean;
  private readonly toChar = byteTable();
  private readonly toByte = new Map(this.toChar.map((c, b) => [c, b]));
  private readonly cache = new Map<string, number[]>();

  constructor(json: TokenizerJson, options: HfBpeTokenizerOptions) {
    if (json?.model?.type !== 'BPE') throw unsupported(`model type ${String(json?.model?.type)}`);
    if (json.normalizer) throw unsupported('a normalizer');
    const pre = json.pre_tokenizer;
    const steps = pre?.type === 'Sequence' ? pre.pretokenizers : pre ? [pre] : [];
    const byteLevel = steps.find((s) => s.type === 'ByteLevel');
    const split = steps.find((s) => s.type === 'Split');
    if (!byteLevel || steps.length > 2 || (steps.length === 2 && !split)) {
      throw unsupported(`pre_tokenizer ${JSON.stringify(steps.map((s) => s.type))}`);
    }
    if (split) {
      if (split.pattern.Regex === undefined || split.behavior !== 'Isolated') {
        throw unsupported(`Split ${JSON.stringify(split.pattern)} / ${split.behavior}`);
      }
      this.split = new RegExp(split.pattern.Regex, 'gu');
    } else {
      this.split = byteLevel.use_regex === false ? /[\s\S]+/gu : GPT2_SPLIT;
    }
    this.prefixSpace = byteLevel.add_prefix_space === true;
    this.vocab = new Map(Object.entries(json.model.vocab));
    json.model.merges.forEach((m, rank) => {
      const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
      this.ranks.set(`${a} ${b}`, rank);
    });
    for (const t of json.added_tokens ?? []) this.added.set(t.content, t.id);
    const escaped = [...this.added.keys()]
      .sort((a, b) => b.length - a.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.addedRe = escaped.length ? new RegExp(`(${escaped.join('|')})`) : null;
    const ids = [...this.vocab.values(), ...this.added.values()];
    this.vocabSize = Math.max(...ids) + 1;
    this.idToToken = new Array(this.vocabSize);
    for (const [t, id] of this.vocab) this.idToToken[id] = t;
    for (const [t, id] of this.added) this.idToToken[id] = t;
    const idOf = (token: string | null | undefined): number | null => {
      if (token === null || token === undefined) return null;
      const id = this.added.get(token) ?? this.vocab.get(token);
      if (id === undefined) throw unsupported(`special token ${token} (not in the vocabulary)`);
      return id;
    };
    this.eosTokenId = idOf(options.eosToken);
    this.padTokenId = idOf(options.padToken);
    this.bosTokenId = idOf(options.bosToken);
    if (options.chatTemplate) this.applyChatTemplate = options.chatTemplate;
  }

  /** Added (special) tokens map to their ids; the text between them is pre-tokenized and merged. */
  encode(text: string): number[] {
    const ids: number[] = [];
    const pieces = this.addedRe ? text.split(this.addedRe) : [text];
    for (const piece of pieces) {
      const special = this.added.get(piece);
      if (special !== undefined) {
        ids.push(special);
        continue;
      }
      if (piece === '') continue;
      const input = this.prefixSpace && !piece.startsWith(' ') ? ` ${piece}` : piece;
      for (const word of input.match(this.split) ?? []) ids.push(...this.bpe(word));
    }
    return ids;
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    let out = '';
    const flush = () => {
      out += new TextDecoder().decode(new Uint8Array(bytes));
      bytes.length = 0;
    };
    for (const id of ids) {
      const token = this.idToToken[id];
      if (token === undefined) continue;
      if (this.added.has(token)) {
        flush();
        out += token;
      } else for (const c of token) bytes.push(this.toByte.get(c) ?? 0);
    }
    flush();
    return out;
  }

  /** Byte-level BPE of one pre-token: always merge the lowest-ranked adjacent pair. */
  private bpe(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    let parts = Array.from(new TextEncoder().encode(word), (b) => this.toChar[b] as string);
    for (;;) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const merged = (parts[best] as string) + (parts[best + 1] as string);
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && `${parts[i]} ${parts[i + 1]}` === `${parts[best]} ${parts[best + 1]}`) {
          next.push(merged);
          i++;
        } else next.push(parts[i] as string);
      }
      parts = next;
    }
    const ids = parts.map((p) => {
      const id = this.vocab.get(p);
      if (id === undefined) throw unsupported(`a merge result missing from the vocabulary (${p})`);
      return id;
    });
    this.cache.set(word, ids);
    return ids;
  }
}
