// docs/guide.md, "Your data in TRL's format": preference JSONL through any Tokenizer, ready for
// collatePreferencePairs or GanpoTrainer.
import {
  type CollateOptions,
  type PreferencePair,
  readPreferenceJsonl,
  type Tokenizer,
  tokenizePreferenceData,
} from 'ganpo/node';

export async function loadPreferenceData(
  dir: string,
  file: string,
  tokenizer: Tokenizer,
): Promise<{ pairs: PreferencePair[]; collate: CollateOptions }> {
  // Lines such as {"prompt": "...", "chosen": "...", "rejected": "..."}, or the same keys holding
  // lists of {"role", "content"} messages; only files inside `dir` are read, and a malformed or
  // oversized line is refused with its line number.
  const { examples } = await readPreferenceJsonl(dir, file, { maxBytes: 64 * 1024 * 1024 });
  const { pairs, eosTokenId } = tokenizePreferenceData(examples, tokenizer);
  // Plain text: the collator appends EOS. Conversations: the chat template ended each turn, eosTokenId
  // is null. Without a pad token TRL pads with EOS (padded positions are masked out either way).
  const padTokenId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  return { pairs, collate: { padTokenId, eosTokenId, maxLength: 1024, vocabSize: tokenizer.vocabSize } };
}
