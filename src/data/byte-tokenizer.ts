import { argumentError } from '../core/errors';
import type { ChatMessage, ChatTemplateOptions, Tokenizer } from './tokenizer';

/**
 * The special tokens of {@link ByteTokenizer}, in id order after the 256 byte ids: padding, BOS,
 * EOS, and the two ChatML turn markers.
 */
const SPECIALS = ['<pad>', '<bos>', '<eos>', '<|im_start|>', '<|im_end|>'] as const;

/** Options of {@link ByteTokenizer.decode}. @inline */
export interface ByteDecodeOptions {
  /**
   * Drop special ids instead of writing their strings (`<eos>`, `<|im_end|>`...). Default false:
   * `decode(encode(text))` returns `text` also when it contains special-token strings, as Hugging
   * Face's `decode(..., skip_special_tokens=False)` does.
   */
  skipSpecialTokens?: boolean;
  /** Stop at the first EOS id (the end of a sampled continuation). Default false. */
  stopAtEos?: boolean;
}

const SPECIAL_IDS = new Map<string, number>(SPECIALS.map((s, i) => [s, 256 + i]));

const SPECIAL_PATTERN = new RegExp(
  `(${SPECIALS.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`,
);

/** Index of the first lone UTF-16 surrogate of `text`, or -1 (TextEncoder would turn it into U+FFFD). */
function loneSurrogate(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return i;
    } else if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

/**
 * A byte-level tokenizer with a chat template, for small models trained from scratch on real text:
 * id `b` is the UTF-8 byte `b` (0–255), so every string is representable without an unknown token,
 * as in ByT5 (Xue et al. 2022, arXiv 2105.13626) and GPT-2's byte-level base alphabet; five special
 * ids follow the bytes:
 *
 * | id | token | role |
 * |---|---|---|
 * | 256 | `<pad>` | {@link Tokenizer.padTokenId} |
 * | 257 | `<bos>` | {@link Tokenizer.bosTokenId} |
 * | 258 | `<eos>` | {@link Tokenizer.eosTokenId} |
 * | 259 | `<\|im_start\|>` | opens a chat turn |
 * | 260 | `<\|im_end\|>` | closes a chat turn |
 *
 * `vocabSize` = 261. `encode` adds no special token (the {@link Tokenizer} contract); special-token
 * strings inside the text map to their ids, as Hugging Face tokenizers do by default
 * (`split_special_tokens=False`), so the text a chat template writes tokenizes to the markers. Text
 * from untrusted users that must never produce a marker should be checked for these strings first.
 *
 * The chat template is ChatML (the layout of Qwen and SmolLM's `tokenizer_config.json`):
 * `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then `<|im_start|>assistant\n` with
 * `addGenerationPrompt`; with `continueFinalMessage` the last message is left open (no
 * `<|im_end|>\n`). Sampling from a conversation stops on `<|im_end|>` ({@link ByteTokenizer.imEndId}).
 *
 * @example
 * ```ts
 * const tok = new ByteTokenizer();
 * tok.encode('hé');                 // [104, 195, 169]
 * tok.decode([104, 195, 169, 258]); // 'hé<eos>'
 * tok.applyChatTemplate([{ role: 'user', content: 'hi' }], {
 *   addGenerationPrompt: true,
 *   continueFinalMessage: false,
 * }); // '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'
 * ```
 */
export class ByteTokenizer implements Tokenizer {
  /** 256 bytes + 5 special tokens. */
  readonly vocabSize = 256 + SPECIALS.length;
  /** {@link Tokenizer.padTokenId}: 256. */
  readonly padTokenId = 256;
  /** {@link Tokenizer.bosTokenId}: 257. */
  readonly bosTokenId = 257;
  /** {@link Tokenizer.eosTokenId}: 258. */
  readonly eosTokenId = 258;
  /** Id of `<|im_start|>`: 259. */
  readonly imStartId = 259;
  /** Id of `<|im_end|>`: 260 (the end of a chat turn). */
  readonly imEndId = 260;
  /** Special-token string → id (`'<eos>'` → 258...). */
  readonly specialTokens: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(SPECIAL_IDS));

  /**
   * The ids of `text`: its UTF-8 bytes, with each special-token string replaced by its id; no
   * special token is added.
   *
   * @throws GanpoError `INVALID_ARGUMENT` when `text` is not a string or holds a lone UTF-16
   *   surrogate (which has no UTF-8 encoding: it would come back as U+FFFD).
   */
  encode(text: string): number[] {
    const where = 'ByteTokenizer.encode';
    if (typeof text !== 'string') {
      throw argumentError('INVALID_ARGUMENT', where, 'text', 'a string', typeof text);
    }
    const bad = loneSurrogate(text);
    if (bad >= 0) {
      const unit = text.charCodeAt(bad).toString(16).toUpperCase();
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'text',
        'well-formed UTF-16 (no lone surrogate)',
        `a lone surrogate U+${unit} at index ${bad}`,
      );
    }
    const encoder = new TextEncoder();
    const ids: number[] = [];
    for (const piece of text.split(SPECIAL_PATTERN)) {
      const special = SPECIAL_IDS.get(piece);
      if (special !== undefined) ids.push(special);
      else for (const b of encoder.encode(piece)) ids.push(b);
    }
    return ids;
  }

  /**
   * The text of `ids`: runs of byte ids are decoded as UTF-8, special ids are written as their
   * strings (or dropped with `skipSpecialTokens`). Byte runs that are not valid UTF-8 (a model's
   * sample can end mid-character) decode with U+FFFD in place of each bad sequence, as
   * `TextDecoder` and Hugging Face's byte-level decoders (`errors="replace"`) do; decoding never
   * throws on a model's output.
   *
   * @throws GanpoError `INVALID_ARGUMENT` when `ids` is not an array; `OUT_OF_RANGE` for an id that is
   *   not an integer in [0, 261).
   */
  decode(ids: readonly number[], options: ByteDecodeOptions = {}): string {
    const where = 'ByteTokenizer.decode';
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) {
      throw argumentError('INVALID_ARGUMENT', where, 'ids', 'an array of token ids', typeof ids);
    }
    const { skipSpecialTokens = false, stopAtEos = false } = options ?? {};
    const decoder = new TextDecoder('utf-8', { fatal: false });
    let out = '';
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length > 0) out += decoder.decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw argumentError(
          'OUT_OF_RANGE',
          where,
          'ids',
          `integer ids in [0, ${this.vocabSize})`,
          `ids[${i}] = ${String(id)}`,
        );
      }
      if (id < 256) {
        bytes.push(id);
        continue;
      }
      flush();
      if (stopAtEos && id === this.eosTokenId) break;
      if (!skipSpecialTokens) out += SPECIALS[id - 256];
    }
    flush();
    return out;
  }

  /**
   * Renders `messages` with the ChatML template (see the class description); Hugging Face's
   * `apply_chat_template(messages, tokenize=False, add_generation_prompt=..., continue_final_message=...)`.
   *
   * @throws GanpoError `INVALID_ARGUMENT` for messages that are not `{ role: string, content: string }`
   *   or a role containing a newline or a special-token string (it would break the turn header);
   *   `INVALID_OPTION` when both options are set (Hugging Face refuses the combination) or
   *   `continueFinalMessage` is set with no message.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
    const where = 'ByteTokenizer.applyChatTemplate';
    if (!Array.isArray(messages)) {
      throw argumentError('INVALID_ARGUMENT', where, 'messages', 'an array of messages', typeof messages);
    }
    if (options === null || typeof options !== 'object') {
      throw argumentError('INVALID_ARGUMENT', where, 'options', 'an options object', String(options));
    }
    const { addGenerationPrompt, continueFinalMessage } = options;
    for (const [name, v] of [
      ['addGenerationPrompt', addGenerationPrompt],
      ['continueFinalMessage', continueFinalMessage],
    ] as const) {
      if (typeof v !== 'boolean') {
        throw argumentError('INVALID_OPTION', where, name, 'a boolean', String(v));
      }
    }
    if (addGenerationPrompt && continueFinalMessage) {
      throw argumentError(
        'INVALID_OPTION',
        where,
        'continueFinalMessage',
        'false when addGenerationPrompt is true',
        'both true',
      );
    }
    if (continueFinalMessage && messages.length === 0) {
      throw argumentError('INVALID_OPTION', where, 'continueFinalMessage', 'a final message', 'no messages');
    }
    let out = '';
    messages.forEach((m, i) => {
      const msg = m as Partial<ChatMessage> | null;
      if (msg === null || typeof msg !== 'object' || typeof msg.content !== 'string') {
        throw argumentError(
          'INVALID_ARGUMENT',
          where,
          `messages[${i}].content`,
          'a string',
          msg === null || typeof msg !== 'object' ? String(msg) : typeof msg.content,
        );
      }
      const role = msg.role;
      if (typeof role !== 'string' || role === '' || /\n/.test(role) || SPECIAL_PATTERN.test(role)) {
        throw argumentError(
          'INVALID_ARGUMENT',
          where,
          `messages[${i}].role`,
          'a non-empty string without newlines or special tokens',
          JSON.stringify(role) ?? String(role),
        );
      }
      out += `<|im_start|>${role}\n${msg.content}`;
      if (!(continueFinalMessage && i === messages.length - 1)) out += '<|im_end|>\n';
    });
    if (addGenerationPrompt) out += '<|im_start|>assistant\n';
    return out;
  }
}
