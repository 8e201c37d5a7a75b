// Writes tests/fixtures/tokenizer/tokenizer.json: a small byte-level BPE tokenizer in Hugging Face's
// tokenizer.json layout (GPT-2 style: ByteLevel pre-tokenizer and decoder, 256 byte tokens, merges
// learnt here by plain BPE on a fixed corpus, three added special tokens), and its
// tokenizer_config.json with a ChatML chat template in Jinja (the layout of Qwen 2.5's template:
// a default system turn when the conversation has none). Deterministic.
//
//   node tools/make-bpe-fixture.mjs
import { writeFileSync } from 'node:fs';

const corpus = `The sky is blue. The sea is blue too. What color is the sky? It is blue.
The grass is green. Where is the sun? In the sky. The sun is not in the sea.
rev:3141=1413 sort:3141=1134 inc:3141=3142. Preference data: prompt, chosen, rejected.`;

const printable = [];
for (let b = 33; b <= 126; b++) printable.push(b);
for (let b = 161; b <= 172; b++) printable.push(b);
for (let b = 174; b <= 255; b++) printable.push(b);
const toChar = [];
let extra = 0;
for (let b = 0; b < 256; b++) toChar[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);

const split = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
let words = corpus.match(split).map((w) => Array.from(new TextEncoder().encode(w), (b) => toChar[b]));
const vocab = {};
toChar.forEach((c, i) => {
  vocab[c] = i;
});
const merges = [];
for (let step = 0; step < 80; step++) {
  const counts = new Map();
  for (const w of words)
    for (let i = 0; i + 1 < w.length; i++) {
      const k = `${w[i]} ${w[i + 1]}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  let best = null;
  for (const [k, n] of counts) if (!best || n > best[1] || (n === best[1] && k < best[0])) best = [k, n];
  if (!best || best[1] < 2) break;
  const [a, b] = best[0].split(' ');
  merges.push(`${a} ${b}`);
  vocab[a + b] = Object.keys(vocab).length;
  words = words.map((w) => {
    const out = [];
    for (let i = 0; i < w.length; i++) {
      if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
        out.push(a + b);
        i++;
      } else out.push(w[i]);
    }
    return out;
  });
}
const n = Object.keys(vocab).length;
const added = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((content, i) => ({
  id: n + i,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
}));
const json = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: added,
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: null,
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: '',
    end_of_word_suffix: '',
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges,
  },
};
writeFileSync('tests/fixtures/tokenizer/tokenizer.json', `${JSON.stringify(json, null, 1)}\n`);
const chatTemplate = [
  "{%- if messages[0]['role'] == 'system' %}",
  "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
  '{%- else %}',
  "    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}",
  '{%- endif %}',
  '{%- for message in messages %}',
  "    {%- if not (message.role == 'system' and loop.first) %}",
  "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
  '    {%- endif %}',
  '{%- endfor %}',
  '{%- if add_generation_prompt %}',
  "    {{- '<|im_start|>assistant\\n' }}",
  '{%- endif %}',
  '',
].join('\n');
const config = {
  add_prefix_space: false,
  bos_token: null,
  chat_template: chatTemplate,
  clean_up_tokenization_spaces: false,
  eos_token: '<|im_end|>',
  model_max_length: 1024,
  pad_token: '<|endoftext|>',
  tokenizer_class: 'PreTrainedTokenizerFast',
  unk_token: null,
};
writeFileSync('tests/fixtures/tokenizer/tokenizer_config.json', `${JSON.stringify(config, null, 2)}\n`);
console.log(`vocab ${n} + ${added.length} added tokens, ${merges.length} merges`);
