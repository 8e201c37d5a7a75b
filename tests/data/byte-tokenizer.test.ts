import { ByteTokenizer, parsePreferenceJsonl, tokenizePreferenceData } from 'ganpo';
import { describe, expect, it } from 'vitest';
// Internal: the Tokenizer interface check every data function runs.
import { assertTokenizer } from '../../src/data/tokenizer';
import { expectGanpoError } from '../support/helpers';

const tok = new ByteTokenizer();
const gen = { addGenerationPrompt: true, continueFinalMessage: false };
const closed = { addGenerationPrompt: false, continueFinalMessage: false };

describe('ByteTokenizer', () => {
  it('maps each UTF-8 byte to its value and puts five specials after the bytes', () => {
    expect(tok.vocabSize).toBe(261);
    expect([tok.padTokenId, tok.bosTokenId, tok.eosTokenId, tok.imStartId, tok.imEndId]).toEqual([
      256, 257, 258, 259, 260,
    ]);
    expect(tok.specialTokens).toEqual({
      '<pad>': 256,
      '<bos>': 257,
      '<eos>': 258,
      '<|im_start|>': 259,
      '<|im_end|>': 260,
    });
    // Hand-written UTF-8: é = C3 A9, 漢 = E6 BC A2, 😀 = F0 9F 98 80.
    expect(tok.encode('hé')).toEqual([104, 0xc3, 0xa9]);
    expect(tok.encode('漢')).toEqual([0xe6, 0xbc, 0xa2]);
    expect(tok.encode('😀!')).toEqual([0xf0, 0x9f, 0x98, 0x80, 33]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('\u0000\n')).toEqual([0, 10]);
    expect(assertTokenizer(tok, 'test')).toBe(tok);
  });

  it('round-trips any well-formed text, and agrees with Buffer’s UTF-8', () => {
    const texts = [
      'The sky is blue.',
      "  tabs\tand newlines\n\nit's done",
      'unicode: é, ß, 漢字, emoji 😀👍🏽, RTL שלום',
      'a\u0301 (combining accent) and \uFEFF (BOM)',
      'specials inline: <bos>x<eos><pad><|im_start|>y<|im_end|>',
      '<eos',
      '',
    ];
    for (const text of texts) {
      const ids = tok.encode(text);
      expect(tok.decode(ids), JSON.stringify(text)).toBe(text);
      if (!/<(pad|bos|eos|\|im_start\||\|im_end\|)>/.test(text)) {
        expect(ids, JSON.stringify(text)).toEqual([...Buffer.from(text, 'utf8')]);
      }
    }
  });

  it('maps special-token strings in the text to their ids and decodes them back', () => {
    expect(tok.encode('a<eos>b')).toEqual([97, 258, 98]);
    expect(tok.encode('<|im_start|>user\n')).toEqual([259, 117, 115, 101, 114, 10]);
    expect(tok.encode('<eos')).toEqual([60, 101, 111, 115]);
    expect(tok.encode('constructor')).toEqual([...Buffer.from('constructor')]);
    expect(tok.decode([257, 104, 105, 258, 256])).toBe('<bos>hi<eos><pad>');
    expect(tok.decode([257, 104, 105, 258, 256], { skipSpecialTokens: true })).toBe('hi');
    expect(tok.decode([104, 105, 258, 120], { stopAtEos: true })).toBe('hi');
  });

  it('decodes invalid UTF-8 from a sample with replacement characters instead of throwing', () => {
    expect(tok.decode([0xff])).toBe('\uFFFD');
    // A continuation cut in the middle of 漢 (E6 BC A2).
    expect(tok.decode([97, 0xe6, 0xbc])).toBe('a\uFFFD');
    // A special id between the bytes of one character splits it.
    expect(tok.decode([0xc3, 258, 0xa9])).toBe('\uFFFD<eos>\uFFFD');
  });

  it('renders ChatML', () => {
    const chat = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Sky?' },
    ];
    expect(tok.applyChatTemplate(chat, gen)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSky?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tok.applyChatTemplate([...chat, { role: 'assistant', content: 'Blue.' }], closed)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSky?<|im_end|>\n' +
        '<|im_start|>assistant\nBlue.<|im_end|>\n',
    );
    expect(
      tok.applyChatTemplate([{ role: 'assistant', content: 'It is' }], {
        addGenerationPrompt: false,
        continueFinalMessage: true,
      }),
    ).toBe('<|im_start|>assistant\nIt is');
    expect(tok.applyChatTemplate([], gen)).toBe('<|im_start|>assistant\n');
    expect(tok.encode(tok.applyChatTemplate([{ role: 'user', content: 'é' }], gen))).toEqual([
      259, 117, 115, 101, 114, 10, 0xc3, 0xa9, 260, 10, 259, 97, 115, 115, 105, 115, 116, 97, 110, 116, 10,
    ]);
  });

  it('tokenizes conversational TRL data through the template (TRL closes turns, no EOS appended)', () => {
    const { examples } = parsePreferenceJsonl(
      JSON.stringify({
        chosen: [
          { role: 'system', content: 'Be kind.' },
          { role: 'user', content: 'Grass?' },
          { role: 'assistant', content: 'Green.' },
        ],
        rejected: [
          { role: 'system', content: 'Be kind.' },
          { role: 'user', content: 'Grass?' },
          { role: 'assistant', content: 'Mud.' },
        ],
      }),
    );
    const data = tokenizePreferenceData(examples, tok);
    expect(data.format).toBe('conversational');
    expect(data.eosTokenId).toBeNull();
    const pair = data.pairs[0];
    expect(tok.decode(pair?.prompt ?? [])).toBe(
      '<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nGrass?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(pair?.rejected).toEqual([77, 117, 100, 46, 260, 10]);
    expect(tok.decode(pair?.chosen ?? [])).toBe('Green.<|im_end|>\n');
  });

  it('tokenizes plain-text TRL data and reports its EOS for the collator', () => {
    const { examples } = parsePreferenceJsonl(
      JSON.stringify({ prompt: 'The war', chosen: ' ended.', rejected: ' began.' }),
    );
    const data = tokenizePreferenceData(examples, tok);
    expect(data.eosTokenId).toBe(258);
    expect(data.pairs[0]?.chosen).toEqual([...Buffer.from(' ended.')]);
  });

  it('refuses bad input with GanpoErrors that name the argument', () => {
    expectGanpoError(() => tok.encode(42 as never), 'INVALID_ARGUMENT', 'text');
    const lone = expectGanpoError(() => tok.encode('ab\uD800c'), 'INVALID_ARGUMENT', 'text');
    expect(lone.received).toContain('U+D800 at index 2');
    expectGanpoError(() => tok.encode('\uDC00'), 'INVALID_ARGUMENT', 'text');
    expectGanpoError(() => tok.decode('abc' as never), 'INVALID_ARGUMENT', 'ids');
    const range = expectGanpoError(() => tok.decode([104, 261]), 'OUT_OF_RANGE', 'ids');
    expect(range.received).toBe('ids[1] = 261');
    expectGanpoError(() => tok.decode([-1]), 'OUT_OF_RANGE', 'ids');
    expectGanpoError(() => tok.decode([1.5]), 'OUT_OF_RANGE', 'ids');
    expectGanpoError(() => tok.applyChatTemplate('hi' as never, gen), 'INVALID_ARGUMENT', 'messages');
    expectGanpoError(() => tok.applyChatTemplate([], null as never), 'INVALID_ARGUMENT', 'options');
    expectGanpoError(
      () => tok.applyChatTemplate([], { addGenerationPrompt: 1, continueFinalMessage: false } as never),
      'INVALID_OPTION',
      'addGenerationPrompt',
    );
    expectGanpoError(
      () => tok.applyChatTemplate([{ role: 'user', content: 'x' }], { ...gen, continueFinalMessage: true }),
      'INVALID_OPTION',
      'continueFinalMessage',
    );
    expectGanpoError(
      () => tok.applyChatTemplate([], { addGenerationPrompt: false, continueFinalMessage: true }),
      'INVALID_OPTION',
      'continueFinalMessage',
    );
    expectGanpoError(
      () => tok.applyChatTemplate([{ role: 'user', content: 3 } as never], gen),
      'INVALID_ARGUMENT',
      'messages[0].content',
    );
    expectGanpoError(
      () => tok.applyChatTemplate([null as never], gen),
      'INVALID_ARGUMENT',
      'messages[0].content',
    );
    for (const role of ['', 'us\ner', '<|im_end|>', 7]) {
      expectGanpoError(
        () => tok.applyChatTemplate([{ role, content: 'x' } as never], gen),
        'INVALID_ARGUMENT',
        'messages[0].role',
      );
    }
  });
});
