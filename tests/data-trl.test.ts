// TRL-format preference data: JSONL parsing (limits, bad input with line numbers), prompt
// extraction and chat templates as TRL's data_utils does them, tokenization as TRL v0.28's
// DPOTrainer.tokenize_row does it, and the Node reader's confinement to its folder.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyChatTemplate,
  type ChatMessage,
  type ChatTemplateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  extractPrompt,
  GanpoError,
  parsePreferenceJsonl,
  type Tokenizer,
  tokenizePreferenceData,
} from 'ganpo';
import { readPreferenceJsonl } from 'ganpo/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';
import { DEFAULT_JSONL_LIMITS } from '../src/data/jsonl';

import { expectGanpoError } from './support/helpers';

/** The ChatML chat template (Qwen, SmolLM) as a function. */
function chatml(messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
  const last = messages.length - 1;
  let out = '';
  messages.forEach((m, i) => {
    out += `<|im_start|>${m.role}\n${m.content}`;
    if (!(options.continueFinalMessage && i === last)) out += '<|im_end|>\n';
  });
  if (options.addGenerationPrompt) out += '<|im_start|>assistant\n';
  return out;
}

const jsonl = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');
const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

/** Runs `fn`, expects a GanpoError with `code`, and returns it (for the line number and message). */
function lineErr(fn: () => unknown, code: string, line: number): GanpoError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GanpoError);
    const g = e as GanpoError;
    expect(g.code).toBe(code);
    expect(g.line).toBe(line);
    expect(g.message).toContain(`line ${line}`);
    return g;
  }
  throw new Error('expected a GanpoError');
}

describe('extractPrompt (TRL data_utils.extract_prompt)', () => {
  it('splits text at the first difference, keeping the space with the responses', () => {
    // TRL's docstring example, as text: the space before "blue"/"green" goes to the responses.
    expect(extractPrompt('The sky is blue.', 'The sky is green.')).toEqual({
      prompt: 'The sky is',
      chosen: ' blue.',
      rejected: ' green.',
    });
    expect(extractPrompt('ab', 'ac')).toEqual({ prompt: 'a', chosen: 'b', rejected: 'c' });
    // No difference within the shorter one: TRL's loop index stops at its last position.
    expect(extractPrompt('abc', 'abcd')).toEqual({ prompt: 'ab', chosen: 'c', rejected: 'cd' });
  });

  it('splits conversations at the first differing message (TRL docstring example)', () => {
    const q = user('What color is the sky?');
    expect(extractPrompt([q, assistant('It is blue.')], [q, assistant('It is green.')])).toEqual({
      prompt: [q],
      chosen: [assistant('It is blue.')],
      rejected: [assistant('It is green.')],
    });
  });

  it('refuses empty responses and mixed kinds', () => {
    expectGanpoError(() => extractPrompt('', 'a'), 'INVALID_FORMAT', 'chosen');
    expectGanpoError(() => extractPrompt('a', [user('a')]), 'INVALID_FORMAT', 'rejected');
  });
});

describe('parsePreferenceJsonl', () => {
  it('reads explicit-prompt text data, skipping blank lines, with BOM and CRLF', () => {
    const text = `\ufeff${jsonl({ prompt: 'The sky is', chosen: ' blue', rejected: ' green', score: 3 })}\r\n\r\n${jsonl({ prompt: 'Q', chosen: 'a', rejected: 'b' })}\n`;
    const { examples, format } = parsePreferenceJsonl(text);
    expect(format).toBe('standard');
    expect(examples).toEqual([
      { prompt: 'The sky is', chosen: ' blue', rejected: ' green', line: 1 },
      { prompt: 'Q', chosen: 'a', rejected: 'b', line: 3 },
    ]);
  });

  it('extracts an implicit prompt, and replaces a prompt of the other format (maybe_extract_prompt)', () => {
    const q = user('What color is the sky?');
    const { examples, format } = parsePreferenceJsonl(
      jsonl(
        { chosen: [q, assistant('Blue.')], rejected: [q, assistant('Green.')] },
        // Text prompt next to conversational responses: TRL extracts from the responses instead.
        {
          prompt: 'What color is the sky?',
          chosen: [q, assistant('Blue.')],
          rejected: [q, assistant('Green.')],
        },
      ),
    );
    expect(format).toBe('conversational');
    for (const e of examples) {
      expect(e.prompt).toEqual([q]);
      expect(e.chosen).toEqual([assistant('Blue.')]);
      expect(e.rejected).toEqual([assistant('Green.')]);
    }
  });

  it('accepts bytes and refuses invalid UTF-8', () => {
    const bytes = new TextEncoder().encode(jsonl({ prompt: 'é', chosen: 'a', rejected: 'b' }));
    expect(parsePreferenceJsonl(bytes).examples[0]?.prompt).toBe('é');
    expectGanpoError(
      () => parsePreferenceJsonl(new Uint8Array([0x7b, 0xff, 0x7d])),
      'INVALID_FORMAT',
      'source',
    );
  });

  it('names the line of bad JSON, a missing key, a wrong type, a bad message and mixed formats', () => {
    const ok = jsonl({ prompt: 'p', chosen: 'a', rejected: 'b' });
    lineErr(() => parsePreferenceJsonl(`${ok}\n{"prompt": "p",`), 'INVALID_FORMAT', 2);
    const missing = lineErr(
      () => parsePreferenceJsonl(`${ok}\n\n${jsonl({ prompt: 'p', chosen: 'a' })}`),
      'INVALID_FORMAT',
      3,
    );
    expect(missing.argument).toBe('rejected');
    lineErr(() => parsePreferenceJsonl(jsonl({ chosen: 1, rejected: 'b' })), 'INVALID_FORMAT', 1);
    lineErr(() => parsePreferenceJsonl(jsonl([1, 2])), 'INVALID_FORMAT', 1);
    const badMsg = lineErr(
      () =>
        parsePreferenceJsonl(
          jsonl({ prompt: [user('q')], chosen: [{ role: 'assistant' }], rejected: [assistant('x')] }),
        ),
      'INVALID_FORMAT',
      1,
    );
    expect(badMsg.argument).toBe('chosen[0].content');
    lineErr(
      () => parsePreferenceJsonl(jsonl({ prompt: [user('q')], chosen: [assistant('a')], rejected: 'b' })),
      'INVALID_FORMAT',
      1,
    );
    const mixed = lineErr(
      () =>
        parsePreferenceJsonl(
          `${ok}\n${jsonl({ prompt: [user('q')], chosen: [assistant('a')], rejected: [assistant('b')] })}`,
        ),
      'INVALID_FORMAT',
      2,
    );
    expect(mixed.message).toContain('standard');
    // The error names the first field that differs from the first line's, in the line's key order.
    expect(mixed.argument).toBe('prompt');
    expect(mixed.message).toContain("'prompt' expected text, as in line 1");
    const chosenFirst = lineErr(
      () =>
        parsePreferenceJsonl(
          `${ok}\n${jsonl({ chosen: [user('q'), assistant('a')], prompt: 'q', rejected: [user('q'), assistant('b')] })}`,
        ),
      'INVALID_FORMAT',
      2,
    );
    expect(chosenFirst.argument).toBe('chosen');
    // Conversations sharing no leading message have no prompt to extract.
    lineErr(
      () =>
        parsePreferenceJsonl(
          jsonl({ chosen: [user('a'), assistant('x')], rejected: [user('b'), assistant('y')] }),
        ),
      'INVALID_FORMAT',
      1,
    );
    expectGanpoError(() => parsePreferenceJsonl('\n  \n'), 'INVALID_FORMAT', 'source');
  });

  it('enforces every size limit, with the line where it is crossed', () => {
    expect(DEFAULT_JSONL_LIMITS).toEqual({
      maxBytes: 128 * 1024 * 1024,
      maxLineBytes: 4 * 1024 * 1024,
      maxExamples: 1_000_000,
      maxMessages: 1024,
      maxDepth: 64,
    });
    const row = jsonl({ prompt: 'p', chosen: 'a', rejected: 'b' });
    expectGanpoError(
      () => parsePreferenceJsonl(`${row}\n${row}`, { maxBytes: row.length }),
      'OUT_OF_RANGE',
      'source',
    );
    expectGanpoError(
      () => parsePreferenceJsonl(new TextEncoder().encode(`${row}\n${row}`), { maxBytes: row.length }),
      'OUT_OF_RANGE',
      'source',
    );
    // Multi-byte characters count as bytes: 10 × 'é' is 20 UTF-8 bytes in 10 UTF-16 units.
    const wide = jsonl({ prompt: 'é'.repeat(10), chosen: 'a', rejected: 'b' });
    lineErr(
      () => parsePreferenceJsonl(`${row}\n${wide}`, { maxLineBytes: wide.length + 5 }),
      'OUT_OF_RANGE',
      2,
    );
    expect(parsePreferenceJsonl(wide, { maxLineBytes: wide.length + 10 }).examples).toHaveLength(1);
    lineErr(() => parsePreferenceJsonl(`${row}\n${row}\n${row}`, { maxExamples: 2 }), 'OUT_OF_RANGE', 3);
    const long = jsonl({
      prompt: [user('a'), assistant('b'), user('c')],
      chosen: [assistant('x')],
      rejected: [assistant('y')],
    });
    lineErr(() => parsePreferenceJsonl(long, { maxMessages: 2 }), 'OUT_OF_RANGE', 1);
    expectGanpoError(() => parsePreferenceJsonl(row, { maxBytes: 0 }), 'INVALID_OPTION', 'maxBytes');
    expectGanpoError(
      () => parsePreferenceJsonl(row, { maxLineBytes: 1.5 }),
      'INVALID_OPTION',
      'maxLineBytes',
    );
  });
});

describe('applyChatTemplate (TRL data_utils.apply_chat_template)', () => {
  const tok = {
    ...new CharTokenizer({ alphabet: 'abc' }),
    encode: () => [],
    decode: () => '',
    applyChatTemplate: chatml,
  } as unknown as Tokenizer;

  it('adds the generation prompt after a user turn and splits the responses off the full rendering', () => {
    const out = applyChatTemplate(
      { prompt: [user('Hi?')], chosen: [assistant('Yes.')], rejected: [assistant('No.')] },
      tok,
    );
    // Expected strings written out by hand from the ChatML layout.
    expect(out).toEqual({
      prompt: '<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n',
      chosen: 'Yes.<|im_end|>\n',
      rejected: 'No.<|im_end|>\n',
    });
  });

  it('continues a final assistant message instead', () => {
    const out = applyChatTemplate(
      {
        prompt: [user('Hi?'), assistant('Well,')],
        chosen: [assistant(' yes.')],
        rejected: [assistant(' no.')],
      },
      tok,
    );
    // The prompt is the common prefix of the three renderings: the open assistant turn "Well,".
    expect(out.prompt).toBe('<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\nWell,');
    expect(out.chosen).toBe('<|im_end|>\n<|im_start|>assistant\n yes.<|im_end|>\n');
  });

  it('refuses a prompt ending with a system message, and conversations without a template', () => {
    expectGanpoError(
      () =>
        applyChatTemplate(
          {
            prompt: [{ role: 'system', content: 's' }],
            chosen: [assistant('a')],
            rejected: [assistant('b')],
          },
          tok,
        ),
      'INVALID_FORMAT',
      'prompt[0].role',
    );
    const plain = new CharTokenizer({ alphabet: 'ab' });
    expectGanpoError(
      () =>
        applyChatTemplate(
          { prompt: [user('a')], chosen: [assistant('a')], rejected: [assistant('b')] },
          plain,
        ),
      'INVALID_ARGUMENT',
      'tokenizer.applyChatTemplate',
    );
  });
});

describe('tokenizePreferenceData (TRL v0.28 tokenize_row)', () => {
  const tok = new CharTokenizer({ alphabet: 'abcdefghijklmnopqrstuvwxyz ?.' });
  const id = (c: string) => 4 + tok.alphabet.indexOf(c);

  it('encodes text pieces separately, no special tokens; the collator appends EOS', () => {
    const { examples } = parsePreferenceJsonl(jsonl({ chosen: 'sky? blue', rejected: 'sky? red' }));
    const data = tokenizePreferenceData(examples, tok);
    expect(data.format).toBe('standard');
    expect(data.eosTokenId).toBe(tok.eosId);
    expect(data.pairs).toEqual([
      { prompt: [...'sky?'].map(id), chosen: [...' blue'].map(id), rejected: [...' red'].map(id) },
    ]);
    const batch = collatePreferencePairs(data.pairs, { padTokenId: tok.padId, eosTokenId: data.eosTokenId });
    expect(batch.chosen.inputIds.arraySync()[0]).toEqual([...[...'sky? blue'].map(id), tok.eosId]);
    disposePreferenceBatch(batch);
  });

  it('lets the chat template end conversational responses (eosTokenId null for the collator)', () => {
    const chat = new CharTokenizer({ alphabet: 'abcdefghijklmnopqrstuvwxyz:|<>\n' });
    const template: Tokenizer = Object.assign(Object.create(chat) as CharTokenizer, {
      applyChatTemplate: (
        m: readonly { role: string; content: string }[],
        o: { addGenerationPrompt: boolean },
      ) => m.map((x) => `${x.role}:${x.content}|`).join('') + (o.addGenerationPrompt ? 'assistant:' : ''),
    });
    const { examples } = parsePreferenceJsonl(
      jsonl({ prompt: [user('hi')], chosen: [assistant('yes')], rejected: [assistant('no')] }),
    );
    const data = tokenizePreferenceData(examples, template);
    expect(data.eosTokenId).toBeNull();
    expect(data.pairs[0]?.prompt).toEqual(chat.encode('user:hi|assistant:'));
    expect(data.pairs[0]?.chosen).toEqual(chat.encode('yes|'));
    expect(data.pairs[0]?.rejected).toEqual(chat.encode('no|'));
  });

  it('refuses a tokenizer without EOS for text, ids outside the vocabulary, and non-tokenizers', () => {
    const { examples } = parsePreferenceJsonl(`\n${jsonl({ prompt: 'a', chosen: 'b', rejected: 'c' })}`);
    const noEos = Object.assign(Object.create(tok) as CharTokenizer, { eosTokenId: null });
    expectGanpoError(
      () => tokenizePreferenceData(examples, noEos),
      'INVALID_ARGUMENT',
      'tokenizer.eosTokenId',
    );
    const wild = Object.assign(Object.create(tok) as CharTokenizer, { encode: () => [tok.vocabSize] });
    const e = lineErr(() => tokenizePreferenceData(examples, wild), 'OUT_OF_RANGE', 2);
    expect(e.argument).toBe('tokenizer.encode(prompt)[0]');
    expectGanpoError(
      () => tokenizePreferenceData(examples, {} as Tokenizer),
      'INVALID_ARGUMENT',
      'tokenizer.encode',
    );
    expectGanpoError(() => tokenizePreferenceData([], tok), 'INVALID_ARGUMENT', 'examples');
  });
});

describe('readPreferenceJsonl (Node): only inside the folder given', () => {
  let base = '';
  let root = '';
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'ganpo-jsonl-'));
    root = join(base, 'data');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'sub', 'train.jsonl'), jsonl({ prompt: 'p', chosen: 'a', rejected: 'b' }));
    writeFileSync(join(base, 'secret.jsonl'), jsonl({ prompt: 's', chosen: 'a', rejected: 'b' }));
    symlinkSync(join(base, 'secret.jsonl'), join(root, 'link.jsonl'));
    writeFileSync(join(root, 'bad.jsonl'), `${jsonl({ prompt: 'p', chosen: 'a', rejected: 'b' })}\n{oops`);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('reads a file under the root', async () => {
    const { examples } = await readPreferenceJsonl(root, 'sub/train.jsonl');
    expect(examples).toEqual([{ prompt: 'p', chosen: 'a', rejected: 'b', line: 1 }]);
  });

  it('refuses paths and links that leave the root, folders, and missing files', async () => {
    const refuse = async (file: string, code: string) => {
      const e = await readPreferenceJsonl(root, file).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(GanpoError);
      expect((e as GanpoError).code).toBe(code);
      expect((e as GanpoError).argument).toBe('file');
    };
    await refuse('../secret.jsonl', 'INVALID_ARGUMENT');
    await refuse('sub/../../secret.jsonl', 'INVALID_ARGUMENT');
    await refuse(join(base, 'secret.jsonl'), 'INVALID_ARGUMENT');
    await refuse('link.jsonl', 'INVALID_ARGUMENT');
    await refuse('sub', 'INVALID_ARGUMENT');
    await refuse('nope.jsonl', 'INVALID_ARGUMENT');
  });

  it('checks the size before reading and reports parse errors by line', async () => {
    const e = await readPreferenceJsonl(root, 'sub/train.jsonl', { maxBytes: 10 }).catch((x: unknown) => x);
    expect((e as GanpoError).code).toBe('OUT_OF_RANGE');
    const bad = await readPreferenceJsonl(root, 'bad.jsonl').catch((x: unknown) => x);
    expect((bad as GanpoError).code).toBe('INVALID_FORMAT');
    expect((bad as GanpoError).line).toBe(2);
  });
});
