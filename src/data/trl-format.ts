import { argumentError, GanpoError } from '../core/errors';
import type { ChatMessage } from './tokenizer';

/** A prompt or response: plain text, or a conversation (TRL's "conversational" format). */
export type PreferenceText = string | readonly ChatMessage[];

/**
 * One preference example in TRL's format after prompt extraction: `prompt`, `chosen` and
 * `rejected` are all plain text (`'standard'`) or all lists of messages (`'conversational'`).
 */
export interface PreferenceExample {
  prompt: PreferenceText;
  chosen: PreferenceText;
  rejected: PreferenceText;
  /** 1-based line of the JSONL source the example was read from (for error messages). */
  line?: number;
}

/** TRL's two dataset formats: plain text, or lists of `{ role, content }` messages. @inline */
export type PreferenceFormat = 'standard' | 'conversational';

/**
 * `true` when `value` is a conversation: a non-empty array whose first element is an object with a
 * `role` (the test of TRL `data_utils.is_conversational`).
 */
export function isConversational(value: unknown): value is readonly ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) return false;
  const first = value[0] as unknown;
  return first !== null && typeof first === 'object' && 'role' in (first as object);
}

const sameMessage = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value).slice(0, 40)}`;
}

/**
 * Refuses, with `INVALID_ARGUMENT` naming `argument` (or the message at fault), a value that is
 * neither text nor a list of `{ role: string, content: string }` messages.
 */
export function assertPreferenceText(
  where: string,
  argument: string,
  value: unknown,
): asserts value is PreferenceText {
  if (typeof value === 'string') return;
  if (!Array.isArray(value)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      argument,
      'text or a list of { role, content } messages',
      describe(value),
    );
  }
  value.forEach((m: unknown, i) => {
    const msg = m as Partial<ChatMessage> | null;
    if (
      msg === null ||
      typeof msg !== 'object' ||
      typeof msg.role !== 'string' ||
      typeof msg.content !== 'string'
    ) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        `${argument}[${i}]`,
        'a message { role: string, content: string }',
        describe(m),
      );
    }
  });
}

/**
 * Refuses, with `INVALID_ARGUMENT` naming `argument`, anything but a {@link PreferenceExample}:
 * an object whose `prompt`, `chosen` and `rejected` are each text or a list of messages.
 */
export function assertPreferenceExample(
  where: string,
  argument: string,
  example: unknown,
): asserts example is PreferenceExample {
  if (example === null || typeof example !== 'object' || Array.isArray(example)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      argument,
      'a preference example { prompt, chosen, rejected }',
      describe(example),
    );
  }
  for (const key of ['prompt', 'chosen', 'rejected'] as const) {
    assertPreferenceText(where, `${argument}.${key}`, (example as Record<string, unknown>)[key]);
  }
}

/**
 * Splits the prompt off an implicit-prompt pair (TRL `data_utils.extract_prompt`): the prompt is the
 * longest common prefix of `chosen` and `rejected` — of characters for text, of whole messages for
 * conversations — and the responses are what follows it. For text, a space just before the first
 * differing character goes to the responses (`"Q: sky? A: blue"` / `"… A: green"` gives the prompt
 * `"Q: sky? A:"` and responses `" blue"` / `" green"`).
 *
 * Where no element differs (one side is a prefix of the other), TRL's loop leaves the index at the
 * last common position, so the prompt stops one element short; that is reproduced. Unlike TRL,
 * a difference at the very first element gives an empty prompt (TRL's `chosen[idx - 1]` wraps around
 * to the last character there).
 *
 * @throws GanpoError `INVALID_ARGUMENT` when `chosen` or `rejected` is neither text nor a list of
 *   `{ role, content }` messages; `INVALID_FORMAT` when one is empty, or when they are not both text
 *   or both conversations.
 */
export function extractPrompt(
  chosen: PreferenceText,
  rejected: PreferenceText,
): { prompt: PreferenceText; chosen: PreferenceText; rejected: PreferenceText } {
  const where = 'extractPrompt';
  assertPreferenceText(where, 'chosen', chosen);
  assertPreferenceText(where, 'rejected', rejected);
  const text = typeof chosen === 'string';
  if (text !== (typeof rejected === 'string')) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'rejected',
      `${text ? 'text' : 'a list of messages'}, like 'chosen'`,
      text ? 'a list of messages' : 'text',
    );
  }
  const n = Math.min(chosen.length, rejected.length);
  if (n === 0) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      chosen.length === 0 ? 'chosen' : 'rejected',
      'a non-empty response to split an implicit prompt from',
      'an empty one',
    );
  }
  let idx = n - 1;
  for (let i = 0; i < n; i++) {
    const differs = text
      ? (chosen as string)[i] !== (rejected as string)[i]
      : !sameMessage(
          (chosen as ChatMessage[])[i] as ChatMessage,
          (rejected as ChatMessage[])[i] as ChatMessage,
        );
    if (differs) {
      idx = i > 0 && text && (chosen as string)[i - 1] === ' ' ? i - 1 : i;
      break;
    }
  }
  return { prompt: chosen.slice(0, idx), chosen: chosen.slice(idx), rejected: rejected.slice(idx) };
}

/**
 * Checks one parsed TRL preference record and returns it as a {@link PreferenceExample} with an
 * explicit prompt, applying TRL's `maybe_extract_prompt`: without a `prompt` key, or when `prompt`
 * is text but the responses are conversations (or the reverse), the prompt is extracted from
 * `chosen`/`rejected` with {@link extractPrompt}. Extra keys are ignored, as TRL drops unused columns.
 *
 * @param record - one JSON object (a JSONL line).
 * @param line - its 1-based line number, carried into errors and the result.
 * @param maxMessages - most messages one field may hold.
 */
export function toPreferenceExample(record: unknown, line?: number, maxMessages = 1024): PreferenceExample {
  const where = line === undefined ? 'toPreferenceExample' : `preference data, line ${line}`;
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw lineError(
      'INVALID_FORMAT',
      where,
      'record',
      'a JSON object with "chosen" and "rejected"',
      Array.isArray(record) ? 'an array' : String(record),
      line,
    );
  }
  const r = record as Record<string, unknown>;
  const fields: Partial<Record<'prompt' | 'chosen' | 'rejected', PreferenceText>> = {};
  for (const key of ['prompt', 'chosen', 'rejected'] as const) {
    const hasKey = Object.hasOwn(r, key);
    if (!hasKey && key === 'prompt') continue;
    if (!hasKey) {
      const keys = Object.keys(r).slice(0, 8).join(', ') || 'none';
      throw lineError(
        'INVALID_FORMAT',
        where,
        key,
        `a "${key}" key (TRL preference data: "prompt"?, "chosen", "rejected")`,
        `keys ${keys}`,
        line,
      );
    }
    fields[key] = checkText(r[key], key, where, line, maxMessages);
  }
  const { chosen, rejected } = fields as Record<'chosen' | 'rejected', PreferenceText>;
  const conversational = typeof chosen !== 'string';
  if (conversational !== (typeof rejected !== 'string')) {
    throw lineError(
      'INVALID_FORMAT',
      where,
      'rejected',
      conversational ? 'a list of messages, like "chosen"' : 'text, like "chosen"',
      conversational ? 'text' : 'a list of messages',
      line,
    );
  }
  let out: PreferenceExample;
  const prompt = fields.prompt;
  // TRL keeps an explicit prompt only when it has the responses' format (maybe_extract_prompt).
  if (prompt !== undefined && (typeof prompt !== 'string') === conversational) {
    out = { prompt, chosen, rejected };
  } else {
    try {
      out = extractPrompt(chosen, rejected);
    } catch (e) {
      if (e instanceof GanpoError && line !== undefined) {
        throw lineError(e.code, where, e.argument ?? 'chosen', e.expected ?? '', e.received ?? '', line);
      }
      throw e;
    }
  }
  if (conversational && out.prompt.length === 0) {
    throw lineError(
      'INVALID_FORMAT',
      where,
      'prompt',
      'at least one message (an explicit "prompt", or leading messages shared by "chosen" and "rejected")',
      'an empty prompt',
      line,
    );
  }
  return line === undefined ? out : { ...out, line };
}

/** Validates a prompt/response value: a string, or an array of `{ role: string, content: string }`. */
function checkText(
  value: unknown,
  key: string,
  where: string,
  line: number | undefined,
  maxMessages: number,
): PreferenceText {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) {
    throw lineError(
      'INVALID_FORMAT',
      where,
      key,
      'a string or a list of {"role", "content"} messages',
      value === null ? 'null' : typeof value,
      line,
    );
  }
  if (value.length === 0 && key !== 'prompt') {
    throw lineError('INVALID_FORMAT', where, key, 'at least one message', 'an empty list', line);
  }
  if (value.length > maxMessages) {
    throw lineError('OUT_OF_RANGE', where, key, `at most ${maxMessages} messages`, `${value.length}`, line);
  }
  return value.map((m, i) => {
    const msg = m as Partial<ChatMessage> | null;
    if (msg === null || typeof msg !== 'object' || typeof msg.role !== 'string') {
      throw lineError(
        'INVALID_FORMAT',
        where,
        `${key}[${i}]`,
        'a message {"role": string, "content": string}',
        msg === null || typeof msg !== 'object' ? String(msg) : 'an object without a string "role"',
        line,
      );
    }
    if (typeof msg.content !== 'string') {
      throw lineError(
        'INVALID_FORMAT',
        where,
        `${key}[${i}].content`,
        'a string (text-only messages; multimodal content parts are not supported)',
        Array.isArray(msg.content) ? 'a list of content parts' : typeof msg.content,
        line,
      );
    }
    return { role: msg.role, content: msg.content };
  });
}

/**
 * A GanpoError reading `"<where>: '<argument>' expected <expected>, received <received>"` that also
 * carries the 1-based source `line` (`where` names it too, e.g. `"preference data, line 3"`).
 */
export function lineError(
  code: GanpoError['code'],
  where: string,
  argument: string,
  expected: string,
  received: string,
  line: number | undefined,
): GanpoError {
  return new GanpoError(code, `${where}: '${argument}' expected ${expected}, received ${received}`, {
    argument,
    expected,
    received,
    line,
  });
}
