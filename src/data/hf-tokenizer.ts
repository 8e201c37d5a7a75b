import { argumentError } from '../core/errors';
import { assertKnownKeys } from '../core/options';
import { assertObject } from '../core/validate';
import type { ChatMessage, ChatTemplateOptions, Tokenizer } from './tokenizer';

const WHERE = 'hfTokenizer';

/** Options of {@link hfTokenizer}. @inline */
export interface HfTokenizerOptions {
  /**
   * The tokenizer, from `tokenizer.json`: `new Tokenizer(tokenizerJson, tokenizerConfig)` of
   * `@huggingface/tokenizers` (any object with the same `encode` / `decode` / `token_to_id` /
   * `get_vocab` methods works).
   */
  tokenizer: {
    /** Token ids of `text` (called with `add_special_tokens: false`). */
    encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
    /** Text of `ids` (called with `skip_special_tokens: false`). */
    decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
    /** Id of a token string, `undefined` when it has none. */
    token_to_id(token: string): number | undefined;
    /** Token string → id, added tokens included when `withAddedTokens`. */
    get_vocab(withAddedTokens?: boolean): Map<string, number>;
  };
  /**
   * `tokenizer_config.json` (parsed): its `eos_token`, `pad_token` and `bos_token` give the special
   * ids, and every `*_token` entry is passed to the chat template (as transformers passes
   * `special_tokens_map`). Default `{}`: no special tokens.
   */
  config?: {
    /** The token string, or an `AddedToken` object with its `content`; `null` = none. */
    eos_token?: string | { content: string } | null;
    /** As `eos_token`. */
    pad_token?: string | { content: string } | null;
    /** As `eos_token`. */
    bos_token?: string | { content: string } | null;
    [key: string]: unknown;
  };
  /**
   * The compiled chat template: `new Template(source)` of `@huggingface/jinja`, with `source` the
   * `chat_template` of `tokenizer_config.json` (or the text of `chat_template.jinja`). Needed for
   * conversational data only; default none.
   */
  chatTemplate?: {
    /** The rendered conversation for the template variables in `context`. */
    render(context: Record<string, unknown>): string;
  } | null;
}

const TOKEN_KEYS = ['eos_token', 'pad_token', 'bos_token'] as const;

function tokenString(value: unknown, key: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown }).content;
  if (typeof value === 'object' && typeof content === 'string') return content;
  throw argumentError(
    'INVALID_FORMAT',
    WHERE,
    `config.${key}`,
    'a token string, { content: string } or null',
    typeof value,
  );
}

/**
 * transformers' `continue_final_message`: the rendering cut right after the final message's
 * content, so that the model continues it (`PreTrainedTokenizerBase.apply_chat_template`): the
 * last occurrence of the stripped content is found, and the cut keeps the content's trailing
 * whitespace only where the template kept it.
 */
function cutAfterFinalMessage(rendered: string, messages: readonly ChatMessage[]): string {
  const final = (messages[messages.length - 1] as ChatMessage).content;
  const stripped = final.trim();
  const at = rendered.lastIndexOf(stripped);
  if (at < 0) {
    throw argumentError(
      'INVALID_FORMAT',
      `${WHERE}.applyChatTemplate`,
      'chatTemplate',
      'a rendering that contains the final message (continueFinalMessage)',
      'a rendering without it',
    );
  }
  const kept = final.trimStart();
  return rendered.slice(at, at + kept.length) === final
    ? rendered.slice(0, at + kept.length)
    : rendered.slice(0, at + stripped.length);
}

/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`, with its Jinja chat
 * template) as ganpo's {@link Tokenizer}, for `tokenizePreferenceData` and TRL-format data. ganpo
 * depends on neither library: pass the objects of `@huggingface/tokenizers` (every `tokenizer.json`
 * model: BPE, WordPiece, Unigram, with normalizers, pre-tokenizers and added tokens) and
 * `@huggingface/jinja` (the chat-template engine of transformers.js); both are pure JavaScript,
 * run in browsers and Node, and read local files, nothing from the network.
 *
 * - `encode(text)` = `tokenizer.encode(text, { add_special_tokens: false }).ids`: no BOS/EOS added
 *   (TRL's `add_special_tokens=False`); special-token strings in the text map to their ids.
 * - `decode(ids)` keeps special tokens (`skip_special_tokens: false`).
 * - `eosTokenId` / `padTokenId` / `bosTokenId` are the ids of the config's `eos_token` /
 *   `pad_token` / `bos_token` (`null` when absent; without a pad token TRL pads with EOS).
 * - `vocabSize` = the largest id of the vocabulary with added tokens, + 1 (`len(tokenizer)`).
 * - `applyChatTemplate(messages, options)` renders the template with transformers' variables:
 *   `messages`, `add_generation_prompt` and the config's special-token strings (`bos_token`,
 *   `eos_token`, ...); `continueFinalMessage` cuts the rendering after the final message's content
 *   as transformers' `continue_final_message` does.
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { Template } from '@huggingface/jinja';
 * import { Tokenizer } from '@huggingface/tokenizers';
 * import { hfTokenizer } from 'ganpo';
 *
 * const json = JSON.parse(await readFile('model/tokenizer.json', 'utf8'));
 * const config = JSON.parse(await readFile('model/tokenizer_config.json', 'utf8'));
 * const tokenizer = hfTokenizer({
 *   tokenizer: new Tokenizer(json, config),
 *   config,
 *   chatTemplate: new Template(config.chat_template),
 * });
 * ```
 * @throws GanpoError `INVALID_ARGUMENT` for a missing or malformed `tokenizer`; `INVALID_FORMAT`
 *   for a special token that is not in the vocabulary; `INVALID_OPTION` for an unknown option.
 * @see https://huggingface.co/docs/transformers/main/en/chat_templating
 */
export function hfTokenizer(options: HfTokenizerOptions): Tokenizer {
  assertObject(WHERE, 'options', options, '{ tokenizer, config?, chatTemplate? }');
  assertKnownKeys(WHERE, options, ['tokenizer', 'config', 'chatTemplate']);
  const { tokenizer: hf, chatTemplate = null } = options;
  const config = options.config ?? {};
  assertObject(WHERE, 'tokenizer', hf, 'a Tokenizer of @huggingface/tokenizers');
  for (const fn of ['encode', 'decode', 'token_to_id', 'get_vocab'] as const) {
    if (typeof hf[fn] !== 'function') {
      throw argumentError('INVALID_ARGUMENT', WHERE, `tokenizer.${fn}`, 'a function', typeof hf[fn]);
    }
  }
  assertObject(WHERE, 'config', config, 'tokenizer_config.json as an object');
  if (chatTemplate !== null && typeof chatTemplate?.render !== 'function') {
    throw argumentError(
      'INVALID_ARGUMENT',
      WHERE,
      'chatTemplate',
      'a compiled template with render() (new Template(source) of @huggingface/jinja) or null',
      typeof chatTemplate,
    );
  }
  let vocabSize = 0;
  for (const id of hf.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  const ids: Record<(typeof TOKEN_KEYS)[number], number | null> = {
    eos_token: null,
    pad_token: null,
    bos_token: null,
  };
  // Every `*_token` string of the config reaches the template, as transformers' special_tokens_map.
  const templateTokens: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!key.endsWith('_token') || value === null || value === undefined) continue;
    if (typeof value !== 'string' && typeof (value as { content?: unknown }).content !== 'string') continue;
    templateTokens[key] = tokenString(value, key) as string;
  }
  for (const key of TOKEN_KEYS) {
    const token = tokenString(config[key], key);
    if (token === null) continue;
    const id = hf.token_to_id(token);
    if (id === undefined || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw argumentError(
        'INVALID_FORMAT',
        WHERE,
        `config.${key}`,
        'a token of the vocabulary',
        `'${token.slice(0, 40)}' (no id)`,
      );
    }
    ids[key] = id;
  }
  const render = (
    template: NonNullable<HfTokenizerOptions['chatTemplate']>,
    messages: readonly ChatMessage[],
    opts: ChatTemplateOptions,
  ): string => {
    if (opts.addGenerationPrompt && opts.continueFinalMessage) {
      throw argumentError(
        'INVALID_OPTION',
        `${WHERE}.applyChatTemplate`,
        'options',
        'at most one of addGenerationPrompt and continueFinalMessage',
        'both',
      );
    }
    let rendered: unknown;
    try {
      rendered = template.render({
        ...templateTokens,
        messages,
        add_generation_prompt: opts.addGenerationPrompt,
      });
    } catch (e) {
      // A template's own raise_exception (e.g. "Conversation roles must alternate") lands here.
      throw argumentError(
        'INVALID_FORMAT',
        `${WHERE}.applyChatTemplate`,
        'messages',
        'a conversation the chat template accepts',
        `the template's error "${e instanceof Error ? e.message : String(e)}"`,
      );
    }
    if (typeof rendered !== 'string') {
      throw argumentError(
        'INVALID_FORMAT',
        `${WHERE}.applyChatTemplate`,
        'chatTemplate',
        'a string',
        typeof rendered,
      );
    }
    return opts.continueFinalMessage ? cutAfterFinalMessage(rendered, messages) : rendered;
  };
  const tokenizer: Tokenizer = {
    vocabSize,
    eosTokenId: ids.eos_token,
    padTokenId: ids.pad_token,
    bosTokenId: ids.bos_token,
    encode: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    decode: (tokenIds) => hf.decode([...tokenIds], { skip_special_tokens: false }),
  };
  if (chatTemplate !== null) {
    tokenizer.applyChatTemplate = (messages, opts) => render(chatTemplate, messages, opts);
  }
  return tokenizer;
}
