// hfTokenizer: a Hugging Face tokenizer.json + tokenizer_config.json (Jinja chat template) through
// @huggingface/tokenizers and @huggingface/jinja, and the conversational TRL path end to end with it.
// The fixture (tests/fixtures/tokenizer/, written by tools/make-bpe-fixture.mjs) is a small
// byte-level BPE with ChatML special tokens and a Qwen-2.5-style template. Expected renderings are
// written out by hand from the template; expected ids come from @huggingface/tokenizers itself.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import * as tf from '@tensorflow/tfjs-core';
import {
  type ChatMessage,
  GanpoTrainer,
  hfTokenizer,
  parsePreferenceJsonl,
  tokenizePreferenceData,
} from 'ganpo';
import { readPreferenceJsonl } from 'ganpo/node';
import { afterAll, describe, expect, it } from 'vitest';
import { TinyLM } from '../../examples/tiny-lm';
import { loadHfTokenizer } from '../../examples/tokenizers/hf-tokenizer';
// Internal: the Tokenizer interface check every data function runs.
import { assertTokenizer } from '../../src/data/tokenizer';
import { expectGanpoError } from '../support/helpers';

const dir = 'tests/fixtures/tokenizer';
const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
const reference = new Tokenizer(json, config);
const tok = hfTokenizer({ tokenizer: reference, config, chatTemplate: new Template(config.chat_template) });
const idOf = (content: string) =>
  (json.added_tokens as { id: number; content: string }[]).find((t) => t.content === content)?.id;
const ids = (text: string) => reference.encode(text, { add_special_tokens: false }).ids;

const gen = { addGenerationPrompt: true, continueFinalMessage: false };
const closed = { addGenerationPrompt: false, continueFinalMessage: false };
const open = { addGenerationPrompt: false, continueFinalMessage: true };
const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });
const SYSTEM = '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n';

describe('hfTokenizer', () => {
  it("takes the special ids from tokenizer_config.json's tokens and sizes the vocabulary with the added tokens", () => {
    expect(tok.eosTokenId).toBe(idOf('<|im_end|>'));
    expect(tok.padTokenId).toBe(idOf('<|endoftext|>'));
    expect(tok.bosTokenId).toBeNull();
    expect(tok.vocabSize).toBe(289); // 286 BPE tokens + 3 added
    expect(assertTokenizer(tok, 'test')).toBe(tok);
  });

  it('encodes without adding special tokens and maps special-token strings to their ids', () => {
    for (const text of ['The sky is blue.', '  tabs\tand\nnewlines ', 'é 漢字 😀', '']) {
      expect(tok.encode(text)).toEqual(ids(text));
    }
    expect(tok.encode('<|im_start|>user')).toEqual([idOf('<|im_start|>'), ...ids('user')]);
    expect(tok.decode(tok.encode('a<|im_end|>\n'))).toBe('a<|im_end|>\n');
  });

  it("renders the Jinja chat template as transformers does (add_generation_prompt, the template's default system turn)", () => {
    const render = tok.applyChatTemplate?.bind(tok);
    expect(render).toBeDefined();
    if (!render) return;
    expect(render([user('Sky?')], gen)).toBe(
      `${SYSTEM}<|im_start|>user\nSky?<|im_end|>\n<|im_start|>assistant\n`,
    );
    expect(render([{ role: 'system', content: 'Be brief.' }, user('Sky?'), assistant('Blue.')], closed)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSky?<|im_end|>\n<|im_start|>assistant\nBlue.<|im_end|>\n',
    );
  });

  it("cuts the rendering after the final message with continueFinalMessage (transformers' continue_final_message)", () => {
    const render = tok.applyChatTemplate?.bind(tok);
    if (!render) throw new Error('no template');
    expect(render([user('Sky?'), assistant('It is')], open)).toBe(
      `${SYSTEM}<|im_start|>user\nSky?<|im_end|>\n<|im_start|>assistant\nIt is`,
    );
    // Trailing whitespace the template kept stays; the cut is after the last occurrence.
    expect(render([user('is'), assistant('It is ')], open)).toBe(
      `${SYSTEM}<|im_start|>user\nis<|im_end|>\n<|im_start|>assistant\nIt is `,
    );
  });

  it('passes every *_token of the config to the template (bos_token, eos_token as in Zephyr-style templates)', () => {
    const zephyr = new Template(
      "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + eos_token + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
    );
    const t = hfTokenizer({
      tokenizer: reference,
      config: { bos_token: '<|endoftext|>', eos_token: { content: '<|im_end|>' }, pad_token: null },
      chatTemplate: zephyr,
    });
    expect(t.bosTokenId).toBe(idOf('<|endoftext|>'));
    expect(t.padTokenId).toBeNull();
    expect(t.applyChatTemplate?.([user('hi')], gen)).toBe(
      '<|endoftext|><|user|>\nhi<|im_end|>\n<|assistant|>\n',
    );
  });

  it('refuses bad options, unknown special tokens and conversations the template refuses, with GanpoErrors', () => {
    expectGanpoError(() => hfTokenizer(null as never), 'INVALID_ARGUMENT', 'options');
    expectGanpoError(() => hfTokenizer({} as never), 'INVALID_ARGUMENT', 'tokenizer');
    expectGanpoError(
      () => hfTokenizer({ tokenizer: { encode: () => ({ ids: [] }) } } as never),
      'INVALID_ARGUMENT',
      'tokenizer.decode',
    );
    expectGanpoError(
      () => hfTokenizer({ tokenizer: reference, configs: {} } as never),
      'INVALID_OPTION',
      'configs',
    );
    expectGanpoError(
      () => hfTokenizer({ tokenizer: reference, config: { eos_token: '<|nope|>' } }),
      'INVALID_FORMAT',
      'config.eos_token',
    );
    expectGanpoError(
      () => hfTokenizer({ tokenizer: reference, config: { eos_token: 5 as never } }),
      'INVALID_FORMAT',
      'config.eos_token',
    );
    expectGanpoError(
      () => hfTokenizer({ tokenizer: reference, chatTemplate: 'source' as never }),
      'INVALID_ARGUMENT',
      'chatTemplate',
    );
    const strict = hfTokenizer({
      tokenizer: reference,
      chatTemplate: new Template(
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}",
      ),
    });
    const e = expectGanpoError(
      () => strict.applyChatTemplate?.([{ role: 'system', content: 'x' }], closed),
      'INVALID_FORMAT',
      'messages',
    );
    expect(e.message).toContain('System role not supported');
    expectGanpoError(
      () =>
        strict.applyChatTemplate?.([user('a')], { addGenerationPrompt: true, continueFinalMessage: true }),
      'INVALID_OPTION',
      'options',
    );
    const dropsContent = hfTokenizer({
      tokenizer: reference,
      chatTemplate: new Template('{{ messages | length }}'),
    });
    expectGanpoError(
      () => dropsContent.applyChatTemplate?.([assistant('gone')], open),
      'INVALID_FORMAT',
      'chatTemplate',
    );
    // Without a template, conversational data is refused by name when it is tokenized.
    const plain = hfTokenizer({ tokenizer: reference, config });
    expect(plain.applyChatTemplate).toBeUndefined();
    const { examples } = parsePreferenceJsonl(
      JSON.stringify({ prompt: [user('a')], chosen: [assistant('b')], rejected: [assistant('c')] }),
    );
    expectGanpoError(
      () => tokenizePreferenceData(examples, plain),
      'INVALID_ARGUMENT',
      'tokenizer.applyChatTemplate',
    );
  });
});

describe('examples/tokenizers/hf-tokenizer: loadHfTokenizer(dir) from local files', () => {
  it("reads tokenizer.json and tokenizer_config.json, and prefers chat_template.jinja to the config's template", async () => {
    const fromDir = await loadHfTokenizer(dir);
    expect(fromDir.encode('The sky is blue.')).toEqual(tok.encode('The sky is blue.'));
    expect(fromDir.applyChatTemplate?.([user('Sky?')], gen)).toBe(
      tok.applyChatTemplate?.([user('Sky?')], gen),
    );
    const tmp = mkdtempSync(join(tmpdir(), 'ganpo-hf-'));
    try {
      writeFileSync(join(tmp, 'tokenizer.json'), JSON.stringify(json));
      writeFileSync(
        join(tmp, 'tokenizer_config.json'),
        JSON.stringify({
          ...config,
          chat_template: [{ name: 'default', template: '{{ messages[0].content }}!' }],
        }),
      );
      expect((await loadHfTokenizer(tmp)).applyChatTemplate?.([user('a')], closed)).toBe('a!');
      writeFileSync(join(tmp, 'chat_template.jinja'), '{{ messages[0].content }}?\n');
      expect((await loadHfTokenizer(tmp)).applyChatTemplate?.([user('a')], closed)).toBe('a?');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('conversational TRL data end to end with a tokenizer.json', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ganpo-hf-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const lines = [
    // explicit prompt
    {
      prompt: [user('What color is the sky?')],
      chosen: [assistant('It is blue.')],
      rejected: [assistant('It is green.')],
    },
    // implicit prompt: TRL's maybe_extract_prompt splits the shared first turn off
    {
      chosen: [user('Where is the sun?'), assistant('In the sky.')],
      rejected: [user('Where is the sun?'), assistant('In the sea.')],
    },
    { prompt: [user('The grass is?')], chosen: [assistant('green')], rejected: [assistant('blue')] },
    { prompt: [user('The sea is?')], chosen: [assistant('blue')], rejected: [assistant('green')] },
  ];
  writeFileSync(join(tmp, 'train.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);

  it("tokenizes as TRL does: the prompt with the generation header, each response closed by the template's <|im_end|>", async () => {
    const { examples } = await readPreferenceJsonl(tmp, 'train.jsonl');
    const data = tokenizePreferenceData(examples, tok);
    expect(data.format).toBe('conversational');
    expect(data.eosTokenId).toBeNull(); // the template closes each turn: the collator appends nothing
    // Everything the collator needs: pad (the tokenizer's <|endoftext|>), no EOS, the vocabulary.
    expect(data.collate).toEqual({ padTokenId: idOf('<|endoftext|>'), eosTokenId: null, vocabSize: 289 });
    expect(data.pairs[0]).toEqual({
      prompt: ids(`${SYSTEM}<|im_start|>user\nWhat color is the sky?<|im_end|>\n<|im_start|>assistant\n`),
      chosen: ids('It is blue.<|im_end|>\n'),
      rejected: ids('It is green.<|im_end|>\n'),
    });
    expect(data.pairs[1]?.prompt).toEqual(
      ids(`${SYSTEM}<|im_start|>user\nWhere is the sun?<|im_end|>\n<|im_start|>assistant\n`),
    );
    expect(data.pairs[1]?.chosen).toEqual(ids('In the sky.<|im_end|>\n'));
  });

  it('trains a GanpoTrainer on it with collate options taken from the data and the tokenizer', async () => {
    const { examples } = await readPreferenceJsonl(tmp, 'train.jsonl');
    const { pairs, collate } = tokenizePreferenceData(examples, tok);
    const policy = new TinyLM({
      vocabSize: tok.vocabSize,
      maxSeqLen: 64,
      dim: 16,
      numLayers: 1,
      numHeads: 2,
      seed: 3,
    });
    const before = tf.memory().numTensors;
    const trainer = new GanpoTrainer({
      model: { policy, reference: 'initial', latentDim: 16 },
      data: {
        collate: { ...collate, maxLength: 64 },
        batchSize: 2,
      },
      training: { learningRate: 1e-3, totalSteps: 2 },
      regularizer: { critic: { kind: 'mlp', hiddenDims: [16] }, seed: 1 },
    });
    const metrics = await trainer.train(pairs);
    expect(metrics).toHaveLength(2);
    for (const m of metrics) {
      expect(m.skipped).toBe(false);
      expect(Number.isFinite(m.loss)).toBe(true);
    }
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });
});
