// A Hugging Face tokenizer from a model's local files, as ganpo's `Tokenizer`: `tokenizer.json`,
// `tokenizer_config.json` and, where the model has one, `chat_template.jinja` (recent transformers
// save the chat template there; older ones inside tokenizer_config.json, as one string or as a list
// of named templates). Nothing is downloaded: copy those files from the model's Hub repository.
//
//   npm install @huggingface/tokenizers @huggingface/jinja
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { type Tokenizer as GanpoTokenizer, hfTokenizer } from 'ganpo';

type Templates = string | { name: string; template: string }[] | undefined;

/** The chat template's source: chat_template.jinja, else the config's (the one named 'default'). */
async function templateSource(dir: string, config: { chat_template?: Templates }): Promise<string | null> {
  try {
    return await readFile(join(dir, 'chat_template.jinja'), 'utf8');
  } catch {
    const t = config.chat_template;
    if (Array.isArray(t)) return t.find((x) => x.name === 'default')?.template ?? null;
    return t ?? null;
  }
}

/** Reads the tokenizer files of the model folder `dir`. */
export async function loadHfTokenizer(dir: string): Promise<GanpoTokenizer> {
  const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  const source = await templateSource(dir, config);
  return hfTokenizer({
    tokenizer: new Tokenizer(json, config),
    config,
    chatTemplate: source === null ? null : new Template(source),
  });
}
