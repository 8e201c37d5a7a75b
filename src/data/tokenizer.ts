import { argumentError } from '../core/errors';

/**
 * One turn of a conversation, as TRL's conversational datasets store it (`{"role": "user",
 * "content": "..."}`; TRL `data_utils.is_conversational`). Roles are free strings; TRL's
 * `apply_chat_template` gives `user`, `assistant`, `system` and `tool` a meaning.
 */
export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * Options of {@link Tokenizer.applyChatTemplate}, named after Hugging Face's
 * `tokenizer.apply_chat_template(messages, add_generation_prompt=..., continue_final_message=...)`.
 */
export interface ChatTemplateOptions {
  /**
   * Append the header that opens the assistant's turn (e.g. `<|im_start|>assistant\n`), so the model
   * answers next. TRL sets it for a prompt whose last message is from `user` or `tool`.
   */
  addGenerationPrompt: boolean;
  /**
   * Leave the final (assistant) message open: no end-of-turn token after it, so the model continues
   * it. TRL sets it for a prompt whose last message is from `assistant`.
   */
  continueFinalMessage: boolean;
}

/**
 * What ganpo needs from a tokenizer to turn TRL-format text data into token ids. Real tokenizers
 * implement it with a thin adapter: a BPE tokenizer from npm, a Hugging Face `tokenizer.json`, or a
 * character tokenizer (runnable adapters for all three are under `examples/tokenizers/` in the
 * package).
 *
 * - `encode` tokenizes plain text **without adding special tokens** (TRL tokenizes with
 *   `add_special_tokens=False` semantics for completions; a BOS, if the model wants one, belongs in
 *   the chat template or in `collatePreferencePairs({ bosTokenId })`). Special-token strings inside
 *   the text (as a chat template writes them) must map to their special ids.
 * - `applyChatTemplate` renders a conversation to text; only conversational data needs it.
 */
export interface Tokenizer {
  /** Token ids of `text`, no special tokens added. */
  encode(text: string): number[];
  /** Text of `ids` (used to show samples; not needed for training). */
  decode(ids: readonly number[]): string;
  /** Number of token ids (ids lie in `[0, vocabSize)`). */
  readonly vocabSize: number;
  /**
   * End-of-sequence id, appended to plain-text responses by the collator (TRL appends `eos_token` to
   * non-conversational `chosen`/`rejected`). `null` when the tokenizer has none.
   */
  readonly eosTokenId: number | null;
  /** Padding id; `null` when the tokenizer has none (TRL then pads with `eos_token_id`). */
  readonly padTokenId: number | null;
  /** Beginning-of-sequence id, or `null`. Informational: TRL adds none for decoder-only models. */
  readonly bosTokenId?: number | null;
  /** Renders a conversation to text (Hugging Face's `apply_chat_template(..., tokenize=False)`). */
  applyChatTemplate?(messages: readonly ChatMessage[], options: ChatTemplateOptions): string;
}

const isId = (v: unknown, vocabSize: number) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < vocabSize;

/**
 * Checks that `tokenizer` has the {@link Tokenizer} members (functions and ids in range) and returns
 * it; throws `INVALID_ARGUMENT` / `OUT_OF_RANGE` naming the member otherwise. Cheap: no text is
 * tokenized.
 */
export function assertTokenizer(tokenizer: unknown, where: string, argument = 'tokenizer'): Tokenizer {
  const t = tokenizer as Partial<Tokenizer> | null;
  if (t === null || typeof t !== 'object') {
    throw argumentError('INVALID_ARGUMENT', where, argument, 'a Tokenizer', String(tokenizer));
  }
  for (const fn of ['encode', 'decode'] as const) {
    if (typeof t[fn] !== 'function') {
      throw argumentError('INVALID_ARGUMENT', where, `${argument}.${fn}`, 'a function', typeof t[fn]);
    }
  }
  const v = t.vocabSize;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw argumentError('INVALID_ARGUMENT', where, `${argument}.vocabSize`, 'a positive integer', String(v));
  }
  for (const id of ['eosTokenId', 'padTokenId', 'bosTokenId'] as const) {
    const value = t[id];
    if (value === undefined && id === 'bosTokenId') continue;
    if (value !== null && !isId(value, v)) {
      throw argumentError(
        'OUT_OF_RANGE',
        where,
        `${argument}.${id}`,
        `null or an integer id in [0, ${v})`,
        String(value),
      );
    }
  }
  if (t.applyChatTemplate !== undefined && typeof t.applyChatTemplate !== 'function') {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      `${argument}.applyChatTemplate`,
      'a function or undefined',
      typeof t.applyChatTemplate,
    );
  }
  return t as Tokenizer;
}
