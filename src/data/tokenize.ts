import { argumentError } from '../core/errors';
import type { PreferencePair } from '../core/types';
import { assertTokenizer, type ChatMessage, type Tokenizer } from './tokenizer';
import {
  assertPreferenceExample,
  lineError,
  type PreferenceExample,
  type PreferenceFormat,
} from './trl-format';

/** A preference example rendered to text: what TRL's `maybe_apply_chat_template` returns. @inline */
export interface PreferenceStrings {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** Token-id pairs ready for `collatePreferencePairs` / `GanpoTrainer`, and how to collate them. */
export interface TokenizedPreferenceData {
  pairs: PreferencePair[];
  format: PreferenceFormat;
  /**
   * The `eosTokenId` to give `collatePreferencePairs` (or `GanpoTrainer`'s `collate`): the
   * tokenizer's EOS for plain text (TRL appends `eos_token_id` to non-conversational responses), and
   * `null` for conversations, whose chat template already closes each turn (TRL's `is_chat`).
   */
  eosTokenId: number | null;
  /**
   * Collation for these pairs, ready for `collatePreferencePairs` or `GanpoTrainer`'s
   * `data.collate` (add `maxLength` and the other limits as you need): `padTokenId` the tokenizer's
   * pad token, else its EOS (what TRL pads with when a tokenizer has no pad token), else 0 (padded
   * positions are masked out either way); `eosTokenId` as above; `vocabSize` the tokenizer's (ids
   * are checked against it).
   */
  collate: { padTokenId: number; eosTokenId: number | null; vocabSize: number };
}

/** Longest common prefix of strings (TRL trims the prompt to it; a no-op for most templates). */
function commonPrefix(a: string, ...rest: string[]): string {
  let n = a.length;
  for (const b of rest) {
    let i = 0;
    while (i < n && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
    n = i;
  }
  return a.slice(0, n);
}

/**
 * Renders a conversational example with the tokenizer's chat template, as TRL's
 * `data_utils.apply_chat_template` does for explicit-prompt preference data:
 *
 * - the prompt is rendered with `addGenerationPrompt` when its last message is from `user` or `tool`,
 *   and with `continueFinalMessage` when it is from `assistant` (any other role is refused);
 * - `prompt + chosen` and `prompt + rejected` are rendered whole, and the prompt text is cut to the
 *   common prefix of the three renderings (templates such as DeepSeek-R1's add text after the
 *   generation prompt);
 * - each response is its rendering minus that prompt.
 *
 * Plain-text examples are returned unchanged (`maybe_apply_chat_template`).
 *
 * @throws GanpoError `INVALID_ARGUMENT` when `example` is not a preference example, `tokenizer` not
 *   a Tokenizer, or the data is conversational and the tokenizer has no `applyChatTemplate`;
 *   `INVALID_FORMAT` for a prompt ending with another role.
 */
export function applyChatTemplate(example: PreferenceExample, tokenizer: Tokenizer): PreferenceStrings {
  assertPreferenceExample('applyChatTemplate', 'example', example);
  assertTokenizer(tokenizer, 'applyChatTemplate');
  return renderExample(example, tokenizer);
}

/** {@link applyChatTemplate} on a checked example and tokenizer. */
function renderExample(example: PreferenceExample, tokenizer: Tokenizer): PreferenceStrings {
  const { prompt, chosen, rejected, line } = example;
  const where = line === undefined ? 'applyChatTemplate' : `preference data, line ${line}`;
  if (typeof prompt === 'string' && typeof chosen === 'string' && typeof rejected === 'string') {
    return { prompt, chosen, rejected };
  }
  if (typeof prompt === 'string' || typeof chosen === 'string' || typeof rejected === 'string') {
    throw lineError(
      'INVALID_FORMAT',
      where,
      'example',
      'prompt, chosen and rejected all text or all messages',
      'a mix',
      line,
    );
  }
  const render = tokenizer.applyChatTemplate?.bind(tokenizer);
  if (render === undefined) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'tokenizer.applyChatTemplate',
      'a chat template for conversational data',
      'a tokenizer without one',
    );
  }
  const last = prompt[prompt.length - 1] as ChatMessage | undefined;
  const role = last?.role;
  if (role !== 'user' && role !== 'tool' && role !== 'assistant') {
    throw lineError(
      'INVALID_FORMAT',
      where,
      `prompt[${prompt.length - 1}].role`,
      "'user', 'tool' or 'assistant' for the prompt's last message",
      String(role),
      line,
    );
  }
  const full = { addGenerationPrompt: false, continueFinalMessage: false };
  const promptText = render(prompt, {
    addGenerationPrompt: role !== 'assistant',
    continueFinalMessage: role === 'assistant',
  });
  const promptChosen = render([...prompt, ...chosen], full);
  const promptRejected = render([...prompt, ...rejected], full);
  for (const [name, s] of [
    ['prompt', promptText],
    ['prompt + chosen', promptChosen],
    ['prompt + rejected', promptRejected],
  ] as const) {
    if (typeof s !== 'string') {
      throw lineError('INVALID_FORMAT', where, `applyChatTemplate(${name})`, 'a string', typeof s, line);
    }
  }
  const cut = commonPrefix(promptText, promptChosen, promptRejected);
  return {
    prompt: cut,
    chosen: promptChosen.slice(cut.length),
    rejected: promptRejected.slice(cut.length),
  };
}

/** Encodes `text` and checks every id lies in the vocabulary (a bad adapter fails here, by line). */
function encodeChecked(
  tokenizer: Tokenizer,
  text: string,
  field: string,
  line: number | undefined,
): number[] {
  const ids = tokenizer.encode(text);
  const where = line === undefined ? 'tokenizePreferenceData' : `preference data, line ${line}`;
  if (!Array.isArray(ids)) {
    throw lineError(
      'INVALID_FORMAT',
      where,
      `tokenizer.encode(${field})`,
      'an array of ids',
      typeof ids,
      line,
    );
  }
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) {
      throw lineError(
        'OUT_OF_RANGE',
        where,
        `tokenizer.encode(${field})[${i}]`,
        `an integer id in [0, ${tokenizer.vocabSize})`,
        String(id),
        line,
      );
    }
  }
  return ids;
}

/**
 * Tokenizes TRL-format preference examples into the token-id pairs of `collatePreferencePairs`,
 * as TRL v0.28's `DPOTrainer` does (`maybe_apply_chat_template`, then `tokenize_row`): the prompt,
 * chosen and rejected texts are encoded separately with no special tokens added; plain-text responses
 * get EOS from the collator (pass the returned `eosTokenId`), conversational ones end with whatever
 * the chat template closes a turn with. (Later TRL versions encode `prompt + response` together and
 * split the ids at the prompt's length; the two agree whenever the tokenizer does not merge across
 * the boundary, which chat templates ensure by ending the prompt with a special token.)
 *
 * @param examples - from {@link parsePreferenceJsonl} / `readPreferenceJsonl`, or built in code.
 * @param tokenizer - any {@link Tokenizer}; conversational data needs `applyChatTemplate`.
 * @throws GanpoError `INVALID_ARGUMENT` for an example that is not `{ prompt, chosen, rejected }` of
 *   text or messages (naming `examples[i]`), plain-text data with a tokenizer without EOS (TRL would
 *   append `None`); `INVALID_FORMAT` for mixed formats; `OUT_OF_RANGE` for ids outside the
 *   vocabulary (with the line).
 */
export function tokenizePreferenceData(
  examples: readonly PreferenceExample[],
  tokenizer: Tokenizer,
): TokenizedPreferenceData {
  const where = 'tokenizePreferenceData';
  assertTokenizer(tokenizer, where);
  if (!Array.isArray(examples) || examples.length === 0) {
    throw argumentError('INVALID_ARGUMENT', where, 'examples', 'a non-empty array', String(examples));
  }
  examples.forEach((example, i) => {
    assertPreferenceExample(where, `examples[${i}]`, example);
  });
  const format: PreferenceFormat = typeof examples[0].chosen === 'string' ? 'standard' : 'conversational';
  if (format === 'standard' && tokenizer.eosTokenId === null) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'tokenizer.eosTokenId',
      'an EOS id to end plain-text responses with',
      'null',
    );
  }
  const pairs = examples.map((example, i) => {
    const kind = typeof example.chosen === 'string' ? 'standard' : 'conversational';
    if (kind !== format) {
      throw lineError(
        'INVALID_FORMAT',
        example.line === undefined ? where : `preference data, line ${example.line}`,
        `examples[${i}]`,
        `the ${format} format of examples[0]`,
        kind,
        example.line,
      );
    }
    const text = renderExample(example, tokenizer);
    return {
      prompt: encodeChecked(tokenizer, text.prompt, 'prompt', example.line),
      chosen: encodeChecked(tokenizer, text.chosen, 'chosen', example.line),
      rejected: encodeChecked(tokenizer, text.rejected, 'rejected', example.line),
    };
  });
  const eosTokenId = format === 'standard' ? tokenizer.eosTokenId : null;
  const padTokenId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  return { pairs, format, eosTokenId, collate: { padTokenId, eosTokenId, vocabSize: tokenizer.vocabSize } };
}
