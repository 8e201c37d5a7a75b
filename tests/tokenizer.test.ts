import { parsePreferenceJsonl, tokenizePreferenceData } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';
import { GptTokenizer } from '../examples/tokenizers/gpt-tokenizer';
import { assertTokenizer } from '../src/data/tokenizer';

import { expectGanpoError } from './support/helpers';

describe('CharTokenizer', () => {
  const tok = new CharTokenizer({ alphabet: '0123456789+=' });

  it('puts the four specials first and the alphabet after them', () => {
    expect([tok.padId, tok.bosId, tok.eosId, tok.unkId]).toEqual([0, 1, 2, 3]);
    expect(tok.vocabSize).toBe(16);
    expect(tok.encode('12+3=', { addBos: true })).toEqual([1, 5, 6, 14, 7, 15]);
    expect(tok.encode('9', { addEos: true })).toEqual([13, 2]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.idToToken(2)).toBe('<eos>');
    expect(tok.idToToken(4)).toBe('0');
  });

  it('round-trips text and skips or shows specials', () => {
    expect(tok.decode(tok.encode('907+1=', { addBos: true, addEos: true }))).toBe('907+1=');
    expect(tok.decode([1, 5, 2, 0], { skipSpecialTokens: false })).toBe('<bos>1<eos><pad>');
    expect(tok.decode([5, 6, 2, 7], { stopAtEos: true })).toBe('12');
  });

  it('handles multi-unit characters as one token', () => {
    const t = new CharTokenizer({ alphabet: ['a', '→', '😀'] });
    expect(t.encode('a😀→')).toEqual([4, 6, 5]);
    expect(t.decode([6, 5])).toBe('😀→');
  });

  it('maps unknown characters to <unk> only when asked', () => {
    const e = expectGanpoError(() => tok.encode('1x'), 'OUT_OF_RANGE', 'text');
    expect(e.received).toContain("'x'");
    const lenient = new CharTokenizer({ alphabet: '01', unknown: 'unk' });
    expect(lenient.encode('0x1')).toEqual([4, 3, 5]);
  });

  it('serialises to JSON and back', () => {
    const again = CharTokenizer.fromJSON(JSON.stringify(tok));
    expect(again.toJSON()).toEqual(tok.toJSON());
    expect(again.encode('3+4=')).toEqual(tok.encode('3+4='));
    expectGanpoError(() => CharTokenizer.fromJSON('{'), 'INVALID_FORMAT', 'json');
    expectGanpoError(() => CharTokenizer.fromJSON({ type: 'Other' } as never), 'INVALID_FORMAT', 'json');
  });

  it('rejects bad alphabets and ids', () => {
    expectGanpoError(() => new CharTokenizer({ alphabet: '' }), 'INVALID_OPTION', 'alphabet');
    expectGanpoError(() => new CharTokenizer({ alphabet: 'abca' }), 'INVALID_OPTION', 'alphabet');
    expectGanpoError(() => new CharTokenizer({ alphabet: ['ab'] }), 'INVALID_OPTION', 'alphabet');
    expectGanpoError(
      () => new CharTokenizer({ alphabet: 'ab', unknown: 'drop' as never }),
      'INVALID_OPTION',
      'unknown',
    );
    expectGanpoError(() => tok.decode([16]), 'OUT_OF_RANGE', 'ids');
    expectGanpoError(() => tok.decode([1.5]), 'OUT_OF_RANGE', 'ids');
  });
});

describe('CharTokenizer as a ganpo Tokenizer', () => {
  it('exposes the special ids under the interface names', () => {
    const tok = new CharTokenizer({ alphabet: 'ab' });
    expect([tok.eosTokenId, tok.padTokenId, tok.bosTokenId]).toEqual([tok.eosId, tok.padId, tok.bosId]);
    expect(assertTokenizer(tok, 'test')).toBe(tok);
  });
});

describe('examples/tokenizers/gpt-tokenizer (GPT-2 BPE from npm)', () => {
  const tok = new GptTokenizer();

  it("reproduces TRL's tokenize_row docstring example (GPT2Tokenizer ids)", () => {
    // DPOTrainer.tokenize_row's example: {"prompt": "The sky is", "chosen": " blue", "rejected": " green"}
    // gives prompt [464, 6766, 318], chosen [4171, 50256], rejected [4077, 50256] with GPT-2's tokenizer.
    const { examples } = parsePreferenceJsonl(
      JSON.stringify({ prompt: 'The sky is', chosen: ' blue', rejected: ' green' }),
    );
    const data = tokenizePreferenceData(examples, tok);
    expect(data.pairs[0]).toEqual({ prompt: [464, 6766, 318], chosen: [4171], rejected: [4077] });
    expect(data.eosTokenId).toBe(50256);
    expect(tok.vocabSize).toBe(50257);
    expect(assertTokenizer(tok, 'test')).toBe(tok);
  });

  it('maps <|endoftext|> anywhere in the text to its id, and renders conversations', () => {
    expect(tok.encode('a<|endoftext|>b')).toEqual([...tok.encode('a'), 50256, ...tok.encode('b')]);
    expect(tok.decode(tok.encode('Hello, world!<|endoftext|>'))).toBe('Hello, world!<|endoftext|>');
    const { examples } = parsePreferenceJsonl(
      JSON.stringify({
        prompt: [{ role: 'user', content: 'Sky?' }],
        chosen: [{ role: 'assistant', content: 'Blue.' }],
        rejected: [{ role: 'assistant', content: 'Green.' }],
      }),
    );
    const data = tokenizePreferenceData(examples, tok);
    expect(data.eosTokenId).toBeNull();
    expect(tok.decode(data.pairs[0]?.prompt ?? [])).toBe('user: Sky?<|endoftext|>assistant:');
    expect(tok.decode(data.pairs[0]?.chosen ?? [])).toBe(' Blue.<|endoftext|>');
    expect(data.pairs[0]?.chosen.at(-1)).toBe(50256);
  });
});
