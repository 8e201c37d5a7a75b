// A `Tokenizer` adapter for a BPE tokenizer from npm: `gpt-tokenizer`'s GPT-2 encoding (r50k_base,
// 50,257 ids, vocabulary shipped inside the package, nothing downloaded at run time).
//
//   npm install gpt-tokenizer
//
// GPT-2 has one special token, <|endoftext|> (id 50256), and no chat template of its own; the one
// below renders each message as `role: content<|endoftext|>`, like DialoGPT's template (a GPT-2 chat
// model that ends every turn with the EOS token), with the role written out.

import type { ChatMessage, ChatTemplateOptions, Tokenizer } from 'ganpo';
import { decode, EndOfText, encode, vocabularySize } from 'gpt-tokenizer/encoding/r50k_base';

const EOS_ID = 50256;
const SPECIALS = new Map([[EndOfText, EOS_ID]]);
const SPECIAL_RE = new RegExp(`(${[...SPECIALS.keys()].map((s) => s.replace(/[|]/g, '\\|')).join('|')})`);

/** GPT-2's BPE through ganpo's {@link Tokenizer} interface. */
export class GptTokenizer implements Tokenizer {
  readonly vocabSize = vocabularySize;
  readonly eosTokenId = EOS_ID;
  /** GPT-2 has no padding token; TRL pads with EOS then, and so do we. */
  readonly padTokenId = EOS_ID;
  readonly bosTokenId = null;

  /**
   * Special-token strings map to their ids; the text between them is BPE-encoded. (Splitting here
   * rather than passing `allowedSpecial` to gpt-tokenizer: it only recognises a special token at the
   * start of the text.)
   */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of text.split(SPECIAL_RE)) {
      const special = SPECIALS.get(piece);
      if (special !== undefined) ids.push(special);
      else if (piece !== '') ids.push(...encode(piece));
    }
    return ids;
  }

  decode(ids: readonly number[]): string {
    return decode(ids);
  }

  /** `role: content<|endoftext|>` per message; the generation prompt is `assistant:`. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
    const last = messages.length - 1;
    let out = '';
    messages.forEach((m, i) => {
      out += `${m.role}: ${m.content}`;
      if (!(options.continueFinalMessage && i === last)) out += EndOfText;
    });
    if (options.addGenerationPrompt) out += 'assistant:';
    return out;
  }
}
