// A tiny character-level causal transformer LM built from ganpo's token embedding and transformer
// layers (`ganpo/ops`), with the interface the GANPO trainer and the demo need: one forward pass returning logits AND the last hidden
// state, trainable variables, temperature sampling, cloning (the frozen reference) and save/load.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Dense, LayerNorm, PositionEmbedding, TokenEmbedding, TransformerBlock } from 'ganpo/ops';
import { mulberry32 } from '../random';

/** Hyper-parameters of {@link TinyLM}. Defaults size a model that trains in seconds on wasm. */
export interface TinyLMConfig {
  /** Vocabulary size V (e.g. `CharTokenizer.vocabSize`). Required. */
  vocabSize: number;
  /** Longest sequence the learned positions cover. Default 64. */
  maxSeqLen?: number;
  /** Hidden size H (also the latent size GANPO's discriminators see). Default 64. */
  dim?: number;
  /** Number of transformer blocks. Default 2. */
  numLayers?: number;
  /** Attention heads (must divide `dim`). Default 4. */
  numHeads?: number;
  /** Feed-forward width. Default 4·dim (GPT-2). */
  ffnDim?: number;
  /** Dropout on attention weights and residual branches when `training`. Default 0 (deterministic). */
  dropout?: number;
  /** Seed of the weight initialisers. Default 0. */
  seed?: number;
}

/** Options of {@link TinyLM.generate}. */
export interface GenerateOptions {
  /** Maximum new tokens per prompt. Default 16. */
  maxNewTokens?: number;
  /** Softmax temperature; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Seed of the sampler (a JS generator, so sampling is identical on every backend). Default 0. */
  seed?: number;
  /** Token that ends a generation (not included in the output). Default: none. */
  eosTokenId?: number;
  /** Id used to right-pad prompts of different lengths. Default 0. */
  padTokenId?: number;
}

/** What {@link TinyLM.forward} returns; the caller owns both tensors. */
export interface TinyLMOutput {
  /** [B,T,V] next-token logits: position t scores token t+1. */
  logits: tf.Tensor3D;
  /** [B,T,H] last hidden state (after the final LayerNorm): GANPO's latent. */
  hidden: tf.Tensor3D;
}

const FORMAT = 'ganpo-example-tiny-lm/1';

/**
 * A tiny GPT: token embedding (`TokenEmbedding`) + learned positions (`PositionEmbedding`),
 * `numLayers` pre-LN causal attention blocks
 * (`TransformerBlock` of `ganpo/ops`: fused attention, ganpo's GEMM, LayerNorm and GELU kernels),
 * final LayerNorm, vocabulary head (`LayerNorm`, `Dense`). `model` is a functional tfjs-layers model
 * whose outputs are `[logits, hidden]`, so a single `apply` yields both, with gradients reaching
 * every weight.
 */
export class TinyLM {
  readonly config: Required<TinyLMConfig>;
  /** The tfjs-layers model: input ids [B,T] int32 → [logits [B,T,V], hidden [B,T,H]]. */
  readonly model: tfl.LayersModel;
  /** Name of the layer whose output is the last hidden state (for latent-extractor hooks). */
  readonly hiddenLayerName: string;

  constructor(config: TinyLMConfig) {
    const dim = config.dim ?? 64;
    this.config = {
      vocabSize: config.vocabSize,
      maxSeqLen: config.maxSeqLen ?? 64,
      dim,
      numLayers: config.numLayers ?? 2,
      numHeads: config.numHeads ?? 4,
      ffnDim: config.ffnDim ?? 4 * dim,
      dropout: config.dropout ?? 0,
      seed: config.seed ?? 0,
    };
    const c = this.config;
    const input = tfl.input({ shape: [null], dtype: 'int32' });
    // GPT-2 / nanoGPT initialisation: N(0, 0.02²) token and position tables.
    // TokenEmbedding is tf.layers.embedding (same weight, initial values and outputs) with a fast
    // row copy on wasm; the weights keep their order, which is how they are saved and matched.
    const tokens = new TokenEmbedding({
      inputDim: c.vocabSize,
      outputDim: c.dim,
      embeddingsInitializer: tfl.initializers.randomNormal({
        mean: 0,
        stddev: 0.02,
        seed: c.seed * 1000 + 1,
      }),
    }).apply(input) as tfl.SymbolicTensor;
    let x = new PositionEmbedding({ maxSeqLen: c.maxSeqLen, seed: c.seed * 1000 + 2 }).apply(
      tokens,
    ) as tfl.SymbolicTensor;
    if (c.dim % c.numHeads !== 0)
      throw new Error(`TinyLM: dim ${c.dim} not divisible by numHeads ${c.numHeads}`);
    for (let i = 0; i < c.numLayers; i++) {
      // GPT-2 initialisation: N(0, 0.02²) kernels, residual projections scaled by 1/√(2·numLayers).
      x = new TransformerBlock({
        numHeads: c.numHeads,
        ffnDim: c.ffnDim,
        numLayers: c.numLayers,
        dropout: c.dropout,
        seed: c.seed * 1000 + 10 * (i + 1),
      }).apply(x) as tfl.SymbolicTensor;
    }
    // The final LayerNorm's output is the last hidden state, GANPO's latent (PyTorch epsilon 1e-5).
    const norm = new LayerNorm();
    const hidden = norm.apply(x) as tfl.SymbolicTensor;
    // Untied vocabulary head with a bias.
    const logits = new Dense({ units: c.vocabSize, seed: c.seed * 1000 + 999 }).apply(
      hidden,
    ) as tfl.SymbolicTensor;
    this.model = tfl.model({ inputs: input, outputs: [logits, hidden] });
    this.hiddenLayerName = norm.name;
  }

  /**
   * One forward pass. `inputIds` [B,T] int32 (T ≤ maxSeqLen), right-padded; pass `training: true`
   * inside a gradient computation (dropout, if configured, is active only then).
   */
  forward(inputIds: tf.Tensor2D, { training = false }: { training?: boolean } = {}): TinyLMOutput {
    const [logits, hidden] = this.model.apply(inputIds, { training }) as [tf.Tensor3D, tf.Tensor3D];
    return { logits, hidden };
  }

  /** The model's trainable tf.Variables, in a fixed order (pass them to `tf.variableGrads`). */
  get trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Number of scalar parameters. */
  get parameterCount(): number {
    return this.model.countParams();
  }

  /** Copies of the weights, in `trainableVariables` order (caller disposes). */
  getWeights(): tf.Tensor[] {
    return this.model.getWeights().map((w) => tf.clone(w));
  }

  /** Overwrites the weights (same order and shapes as {@link TinyLM.getWeights}). */
  setWeights(weights: tf.Tensor[]): void {
    this.model.setWeights(weights);
  }

  /** An independent copy with the same config and weights (e.g. the frozen reference model). */
  clone(): TinyLM {
    const copy = new TinyLM(this.config);
    const w = this.getWeights();
    copy.setWeights(w);
    tf.dispose(w);
    return copy;
  }

  /**
   * Samples continuations of `prompts` (token-id arrays, e.g. BOS + prompt text) one token at a time,
   * re-running the model on the whole prefix (no KV cache: sequences here are a few dozen tokens).
   * Prefixes longer than `maxSeqLen` keep their last `maxSeqLen` tokens.
   *
   * @returns the new tokens of each prompt, without the EOS that stopped it.
   */
  generate(prompts: readonly (readonly number[])[], options: GenerateOptions = {}): number[][] {
    const { maxNewTokens = 16, temperature = 1, seed = 0, eosTokenId, padTokenId = 0 } = options;
    if (!(temperature >= 0)) throw new Error(`TinyLM.generate: temperature must be >= 0, got ${temperature}`);
    const random = mulberry32(seed);
    const V = this.config.vocabSize;
    const seqs = prompts.map((p) => [...p]);
    const out: number[][] = prompts.map(() => []);
    const done = prompts.map(() => false);
    for (let step = 0; step < maxNewTokens && done.some((d) => !d); step++) {
      const active = seqs.map((_, i) => i).filter((i) => !done[i]);
      const windows = active.map((i) => (seqs[i] as number[]).slice(-this.config.maxSeqLen));
      const T = Math.max(...windows.map((w) => w.length));
      const ids = new Int32Array(active.length * T).fill(padTokenId);
      const last = new Int32Array(active.length);
      windows.forEach((w, r) => {
        ids.set(w, r * T);
        last[r] = w.length - 1;
      });
      const rows = tf.tidy(() => {
        const { logits } = this.forward(tf.tensor2d(ids, [active.length, T], 'int32'));
        // Pick each row's logits at its own last position without gather (a one-hot contraction).
        const pick = tf.expandDims(tf.oneHot(tf.tensor1d(last, 'int32'), T), 2);
        return tf.sum(tf.mul(logits, tf.cast(pick, 'float32')), 1);
      });
      const data = rows.dataSync();
      rows.dispose();
      active.forEach((i, r) => {
        const z = data.subarray(r * V, (r + 1) * V);
        let token = 0;
        if (temperature === 0) {
          for (let v = 1; v < V; v++) if ((z[v] as number) > (z[token] as number)) token = v;
        } else {
          let max = Number.NEGATIVE_INFINITY;
          for (let v = 0; v < V; v++) max = Math.max(max, (z[v] as number) / temperature);
          const p = Array.from(z, (zv) => Math.exp(zv / temperature - max));
          let u = random() * p.reduce((a, b) => a + b, 0);
          token = V - 1;
          for (let v = 0; v < V; v++) {
            u -= p[v] as number;
            if (u < 0) {
              token = v;
              break;
            }
          }
        }
        if (eosTokenId !== undefined && token === eosTokenId) done[i] = true;
        else {
          (seqs[i] as number[]).push(token);
          (out[i] as number[]).push(token);
        }
      });
    }
    return out;
  }

  /** Weights as one binary blob plus a manifest (in-memory form of {@link TinyLM.save}). */
  async serialize(): Promise<{
    config: Required<TinyLMConfig>;
    specs: tf.io.WeightsManifestEntry[];
    data: ArrayBuffer;
  }> {
    const weights = this.model.getWeights();
    const named = weights.map((w, i) => ({ name: `w${String(i).padStart(3, '0')}`, tensor: w }));
    const { data, specs } = await tf.io.encodeWeights(named);
    return { config: this.config, specs, data: data as ArrayBuffer };
  }

  /** Rebuilds a model from {@link TinyLM.serialize}'s output. */
  static deserialize(s: {
    config: TinyLMConfig;
    specs: tf.io.WeightsManifestEntry[];
    data: ArrayBuffer;
  }): TinyLM {
    const lm = new TinyLM(s.config);
    const map = tf.io.decodeWeights(s.data, s.specs);
    const names = Object.keys(map).sort();
    const expected = lm.model.weights.length;
    if (names.length !== expected)
      throw new Error(`TinyLM.deserialize: ${names.length} weights, expected ${expected}`);
    const tensors = names.map((n) => map[n] as tf.Tensor);
    lm.setWeights(tensors);
    tf.dispose(tensors);
    return lm;
  }

  /** Writes `config.json` (config + weight manifest) and `weights.bin` into directory `dir`. */
  async save(dir: string): Promise<void> {
    const { config, specs, data } = await this.serialize();
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ format: FORMAT, config, weights: specs }, null, 2),
    );
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(data));
  }

  /** Loads a model written by {@link TinyLM.save}. */
  static load(dir: string): TinyLM {
    const meta = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
      format: string;
      config: TinyLMConfig;
      weights: tf.io.WeightsManifestEntry[];
    };
    if (meta.format !== FORMAT) throw new Error(`TinyLM.load: unknown format ${meta.format}`);
    const bytes = readFileSync(join(dir, 'weights.bin'));
    const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    return TinyLM.deserialize({ config: meta.config, specs: meta.weights, data });
  }

  /** Frees the model's weights. */
  dispose(): void {
    this.model.dispose();
  }
}
