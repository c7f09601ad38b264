#!/usr/bin/env node
// Converts a SentencePiece model (a .model protobuf: ALBERT's or T5's
// spiece.model) into a tokenizer.json laid out as transformers' converters
// write it, for the parity check of real SentencePiece data (the Precompiled
// normalizer's charsmap, the Unigram scores) when no tokenizer.json of the
// model can be had. Output goes to OUT_DIR/tokenizer.json, which
// TestHFParity checks against HF tokenizers with IA3_HF_EXTRA_TOKENIZERS.
//
// Usage: node spm_to_tokenizer_json.js SPIECE_MODEL LAYOUT OUT_DIR
// LAYOUT is one of
//   albert  AlbertConverter: Replace `` and '' by ", NFKD, StripAccents,
//           Lowercase, Precompiled, Replace " {2,}" by " "; Metaspace with
//           add_prefix_space (as albert-base-v2's tokenizer.json); scores of
//           pieces ending in digit + comma lowered by 100; [CLS] $A [SEP].
//   t5      t5-base's tokenizer.json on the Hub: Precompiled alone,
//           WhitespaceSplit then Metaspace with add_prefix_space, 100
//           <extra_id_N> pieces appended, $A </s>.
//   t5new   transformers' current SpmConverter/T5Converter: Precompiled,
//           Strip right, Replace " {2,}" by "▁", Metaspace with
//           prepend_scheme always and split, extra ids, $A </s>.
// and, following transformers' current converters in full (the model's
// control and user-defined pieces as added tokens, then
// tokenizer_config.json's added_tokens_decoder and special tokens, as a
// fast tokenizer adds them on load), for TestSentencePieceHFParity:
//   deberta-v2  DebertaV2Converter: [Lowercase], Strip, Precompiled,
//               Replace " {2,}" by " "; [Punctuation], Metaspace;
//               [CLS] $A [SEP].
//   albert-hf   AlbertConverter, as albert above plus the added tokens.
//   t5-hf       T5Converter: as t5new, pair $A </s> $B </s> all type 0.
//   llama       LlamaConverter: BPE with merges from the scores
//               (generate_merges), byte fallback; legacy: Prepend "▁"
//               and Replace " " by "▁", else Metaspace prepend first,
//               no split; BOS/EOS template (add_bos_token,
//               add_eos_token).
// These read TOKENIZER_CONFIG (tokenizer_config.json: do_lower_case,
// split_by_punct, keep_accents, legacy, add_prefix_space, add_bos_token,
// add_eos_token, extra_ids, added_tokens_decoder, *_token,
// additional_special_tokens) when given.
//
//   node spm_to_tokenizer_json.js SPIECE_MODEL LAYOUT OUT_DIR [TOKENIZER_CONFIG]
'use strict';

const fs = require('fs');
const path = require('path');

const [modelFile, layout, outDir, configFile] = process.argv.slice(2);
const hfLayouts = ['deberta-v2', 'albert-hf', 't5-hf', 'llama'];
if (!modelFile || !['albert', 't5', 't5new', ...hfLayouts].includes(layout) || !outDir) {
  console.error('usage: node spm_to_tokenizer_json.js SPIECE_MODEL albert|t5|t5new|' + hfLayouts.join('|') + ' OUT_DIR [TOKENIZER_CONFIG]');
  process.exit(2);
}

// varint reads a protobuf varint at i, returning [value, next index].
function varint(b, i) {
  let r = 0n;
  let s = 0n;
  for (;;) {
    const c = b[i++];
    r |= BigInt(c & 0x7f) << s;
    s += 7n;
    if (!(c & 0x80)) break;
  }
  return [r, i];
}

// fields splits a protobuf message into [field number, value] pairs.
function fields(b) {
  const out = [];
  let i = 0;
  while (i < b.length) {
    let k;
    [k, i] = varint(b, i);
    const f = Number(k >> 3n);
    const w = Number(k & 7n);
    let v;
    if (w === 0) {
      [v, i] = varint(b, i);
    } else if (w === 2) {
      let n;
      [n, i] = varint(b, i);
      v = b.subarray(i, i + Number(n));
      i += Number(n);
    } else if (w === 5) {
      v = b.readFloatLE(i);
      i += 4;
    } else if (w === 1) {
      v = b.readDoubleLE(i);
      i += 8;
    } else {
      throw new Error('unsupported wire type ' + w);
    }
    out.push([f, v]);
  }
  return out;
}

const field = (fs_, n, dflt) => {
  const f = fs_.find((x) => x[0] === n);
  return f === undefined ? dflt : f[1];
};

// ModelProto: pieces = 1 (piece = 1, score = 2, type = 3), trainer_spec = 2
// (unk_id = 40, byte_fallback = 35), normalizer_spec = 3
// (precompiled_charsmap = 2).
const top = fields(fs.readFileSync(modelFile));
const pieces = top.filter((x) => x[0] === 1).map((x) => {
  const p = fields(x[1]);
  return { piece: Buffer.from(field(p, 1, Buffer.alloc(0))).toString('utf8'), score: field(p, 2, 0), type: Number(field(p, 3, 1n)) };
});
const trainer = fields(field(top, 2, Buffer.alloc(0)));
const norm = fields(field(top, 3, Buffer.alloc(0)));
const unkID = Number(field(trainer, 40, 0n));
const byteFallback = field(trainer, 35, 0n) !== 0n;
const charsmap = Buffer.from(field(norm, 2, Buffer.alloc(0))).toString('base64');
if (hfLayouts.includes(layout)) {
  const modelType = Number(field(trainer, 3, 1n));
  const unkPiece = Buffer.from(field(trainer, 45, Buffer.from('<unk>'))).toString('utf8');
  const cfg = configFile ? JSON.parse(fs.readFileSync(configFile, 'utf8')) : {};
  writeHF(hfTokenizer(pieces, modelType, unkID, unkPiece, charsmap, cfg));
  process.exit(0);
}
if (!charsmap) throw new Error(modelFile + ': no precompiled_charsmap');

// Scores go through float32 as the protobuf stores them; JSON keeps the
// shortest decimal of the float64 widening, as serde_json writes an f64.
let vocab = pieces.map((p) => [p.piece, p.score]);
const special = (content, id, extra = {}) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra });
let added = pieces.map((p, id) => ({ p, id })).filter(({ p }) => p.type === 2 || p.type === 3).map(({ p, id }) => special(p.piece, id));
const metaspaceOld = { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true };
const metaspaceNew = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true };
const idOf = (t) => vocab.findIndex((v) => v[0] === t);
const template = (single, pair, specials) => ({
  type: 'TemplateProcessing', single, pair,
  special_tokens: Object.fromEntries(specials.map((t) => [t, { id: t, ids: [idOf(t)], tokens: [t] }])),
});
const tok = (t, type_id = 0) => ({ SpecialToken: { id: t, type_id } });
const seq = (id, type_id = 0) => ({ Sequence: { id, type_id } });
let normalizer;
let preTokenizer;
let decoder;
let post;
if (layout === 'albert') {
  const numberComma = (s) => { const r = [...s]; return r.length >= 2 && r[r.length - 1] === ',' && /\p{Nd}/u.test(r[r.length - 2]); };
  vocab = vocab.map(([p, s]) => [p, numberComma(p) ? s - 100 : s]);
  added = added.map((a) => (a.content === '[MASK]' ? { ...a, lstrip: true } : a));
  normalizer = { type: 'Sequence', normalizers: [
    { type: 'Replace', pattern: { String: '``' }, content: '"' },
    { type: 'Replace', pattern: { String: "''" }, content: '"' },
    { type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Lowercase' },
    { type: 'Precompiled', precompiled_charsmap: charsmap },
    { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
  ] };
  preTokenizer = metaspaceOld;
  decoder = metaspaceOld;
  post = template([tok('[CLS]'), seq('A'), tok('[SEP]')], [tok('[CLS]'), seq('A'), tok('[SEP]'), seq('B', 1), tok('[SEP]', 1)], ['[CLS]', '[SEP]']);
} else {
  for (let i = 99; i >= 0; i--) {
    added.push(special(`<extra_id_${i}>`, vocab.length));
    vocab.push([`<extra_id_${i}>`, 0]);
  }
  post = template([seq('A'), tok('</s>')], [seq('A'), tok('</s>'), seq('B', 1), tok('</s>', 1)], ['</s>']);
  if (layout === 't5') {
    normalizer = { type: 'Precompiled', precompiled_charsmap: charsmap };
    preTokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspaceOld] };
    decoder = metaspaceOld;
  } else {
    normalizer = { type: 'Sequence', normalizers: [
      { type: 'Precompiled', precompiled_charsmap: charsmap },
      { type: 'Strip', strip_left: false, strip_right: true },
      { type: 'Replace', pattern: { Regex: ' {2,}' }, content: '\u2581' },
    ] };
    preTokenizer = metaspaceNew;
    decoder = metaspaceNew;
  }
}
const out = {
  version: '1.0', truncation: null, padding: null, added_tokens: added.sort((a, b) => a.id - b.id),
  normalizer, pre_tokenizer: preTokenizer, post_processor: post, decoder,
  model: { type: 'Unigram', unk_id: unkID, vocab, byte_fallback: byteFallback },
};
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(out));

function writeHF(j) {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(j));
}

// generateMerges is transformers' generate_merges(vocab, vocab_scores):
// each split of a piece into two pieces of the model's vocabulary, a
// piece's splits in (left id, right id) order, all sorted (stably) by
// score, left length, right length (code points), descending.
function generateMerges(spmIDs, vocabScores) {
  const scores = new Map();
  for (const [p, s] of vocabScores) scores.set(p, s);
  let all = [];
  let seq = 0;
  for (const [p, s] of scores) {
    const cps = [...p];
    const local = [];
    for (let i = 1; i < cps.length; i++) {
      const l = cps.slice(0, i).join('');
      const r = cps.slice(i).join('');
      if (spmIDs.has(l) && spmIDs.has(r)) local.push({ l, r, s, ll: i, rl: cps.length - i });
    }
    local.sort((a, b) => spmIDs.get(a.l) - spmIDs.get(b.l) || spmIDs.get(a.r) - spmIDs.get(b.r));
    for (const m of local) all.push({ ...m, seq: seq++ });
  }
  all.sort((a, b) => b.s - a.s || b.ll - a.ll || b.rl - a.rl || a.seq - b.seq);
  return all.map((m) => [m.l, m.r]);
}

// hfTokenizer follows transformers' current converters for the four
// layouts, with the added tokens a fast tokenizer adds on load.
function hfTokenizer(pieces, modelType, unkID, unkPiece, charsmap, cfg) {
  const flag = (k, d) => (cfg[k] === undefined || cfg[k] === null ? d : cfg[k]);
  // legacy and add_prefix_space are attributes of T5Tokenizer and
  // LlamaTokenizer only.
  const ownsFlags = layout === 't5-hf' || layout === 'llama';
  const legacy = ownsFlags ? flag('legacy', true) : true;
  const addPrefix = ownsFlags ? flag('add_prefix_space', true) : true;
  const scheme = addPrefix ? (legacy ? 'always' : 'first') : 'never';
  const isLlama = layout === 'llama';
  const numberComma = (s) => { const r = [...s]; return r.length >= 2 && r[r.length - 1] === ',' && /\p{Nd}/u.test(r[r.length - 2]); };
  let vocab = pieces.map((p, i) => [p.piece, (isLlama && i < 3) ? 0 : (layout === 'albert-hf' && numberComma(p.piece) ? p.score - 100 : p.score)]);
  const spmIDs = new Map(pieces.map((p, i) => [p.piece, i]));
  if (layout === 't5-hf') {
    for (let i = flag('extra_ids', 100) - 1; i >= 0; i--) vocab.push([`<extra_id_${i}>`, 0]);
  }
  const ids = new Map(vocab.map(([p], i) => [p, i]));
  let model;
  if (modelType === 1) {
    model = { type: 'Unigram', unk_id: isLlama ? 0 : unkID, vocab, byte_fallback: isLlama };
  } else if (modelType === 2) {
    model = { type: 'BPE', dropout: null, unk_token: unkPiece, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: isLlama, ignore_merges: false, vocab: Object.fromEntries(ids), merges: generateMerges(spmIDs, vocab) };
  } else {
    throw new Error('model_type ' + modelType);
  }
  // Added tokens: control (special) and user-defined pieces, then
  // added_tokens_decoder (its flags win), then the special tokens.
  const added = [];
  const add = (t, override) => {
    const i = added.findIndex((a) => a.content === t.content);
    if (i >= 0) { if (override) added[i] = { ...t, id: added[i].id }; return; }
    let id = ids.has(t.content) ? ids.get(t.content) : Math.max(vocab.length, ...added.map((a) => a.id + 1));
    added.push({ ...t, id });
  };
  const tokenOf = (v) => {
    if (v === null || v === undefined) return null;
    if (typeof v === 'string') return v ? { content: v, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true } : null;
    const special = v.special === undefined ? true : v.special;
    return { content: v.content, single_word: !!v.single_word, lstrip: !!v.lstrip, rstrip: !!v.rstrip,
      normalized: v.normalized === undefined ? !special : v.normalized, special };
  };
  pieces.forEach((p, id) => {
    if (p.type === 3 || p.type === 4) add({ content: p.piece, single_word: false, lstrip: false, rstrip: false, normalized: false, special: p.type === 3 }, false);
  });
  const dec = cfg.added_tokens_decoder || {};
  const declared = new Set();
  for (const k of Object.keys(dec).map(Number).sort((a, b) => a - b)) {
    const t = tokenOf(dec[String(k)]);
    add(t, true);
    declared.add(t.content);
  }
  const S = (c, extra = {}) => ({ content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra });
  const defaults = {
    'deberta-v2': { bos_token: S('[CLS]'), eos_token: S('[SEP]'), unk_token: S('[UNK]'), sep_token: S('[SEP]'), pad_token: S('[PAD]'), cls_token: S('[CLS]'), mask_token: S('[MASK]') },
    'albert-hf': { bos_token: S('[CLS]'), eos_token: S('[SEP]'), unk_token: S('<unk>'), sep_token: S('[SEP]'), pad_token: S('<pad>'), cls_token: S('[CLS]'), mask_token: S('[MASK]', { lstrip: true }) },
    't5-hf': { eos_token: S('</s>'), unk_token: S('<unk>'), pad_token: S('<pad>') },
    llama: { bos_token: S('<s>'), eos_token: S('</s>'), unk_token: S('<unk>') },
  }[layout];
  const specialOf = (k) => (k in cfg ? tokenOf(cfg[k]) : (defaults[k] || null));
  for (const k of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
    let t = specialOf(k);
    if (!t) continue;
    // AlbertTokenizer's mask token is lstrip whatever the config says; a
    // special token's own flags replace those of the control piece it is,
    // unless added_tokens_decoder declared it (as albert-base-v2's
    // tokenizer.json has them).
    if (layout === 'albert-hf' && k === 'mask_token') t = { ...t, lstrip: true };
    add({ ...t, special: true }, !declared.has(t.content) && (t.lstrip || t.rstrip || t.single_word || t.normalized));
  }
  let extra = cfg.additional_special_tokens ? cfg.additional_special_tokens.map(tokenOf).filter((t) => t) : [];
  if (!cfg.additional_special_tokens && layout === 't5-hf') extra = vocab.slice(pieces.length).map(([p]) => S(p));
  for (const t of extra) add({ ...t, special: true }, false);
  added.sort((a, b) => a.id - b.id);
  const idOf = (t) => { const a = added.find((x) => x.content === t); return a ? a.id : ids.get(t); };
  const template = (single, pair, specials) => ({
    type: 'TemplateProcessing', single, pair,
    special_tokens: Object.fromEntries(specials.map((t) => [t, { id: t, ids: [idOf(t)], tokens: [t] }])),
  });
  const tok = (t, type_id = 0) => ({ SpecialToken: { id: t, type_id } });
  const seq = (id, type_id = 0) => ({ Sequence: { id, type_id } });
  const precompiled = charsmap ? [{ type: 'Precompiled', precompiled_charsmap: charsmap }] : [];
  const spaces = (content) => ({ type: 'Replace', pattern: { Regex: ' {2,}' }, content });
  const metaspace = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: scheme, split: true };
  const clsSep = () => template([tok('[CLS]'), seq('A'), tok('[SEP]')], [tok('[CLS]'), seq('A'), tok('[SEP]'), seq('B', 1), tok('[SEP]', 1)], ['[CLS]', '[SEP]']);
  let normalizers = [];
  let pre = null;
  let decoder = metaspace;
  let post = null;
  if (layout === 'deberta-v2') {
    if (flag('do_lower_case', false)) normalizers.push({ type: 'Lowercase' });
    normalizers.push({ type: 'Strip', strip_left: true, strip_right: true }, ...precompiled, spaces(' '));
    pre = { type: 'Sequence', pretokenizers: [...(flag('split_by_punct', false) ? [{ type: 'Punctuation', behavior: 'Isolated' }] : []), metaspace] };
    post = clsSep();
  } else if (layout === 'albert-hf') {
    normalizers.push({ type: 'Replace', pattern: { String: '``' }, content: '"' }, { type: 'Replace', pattern: { String: "''" }, content: '"' });
    if (!flag('keep_accents', false)) normalizers.push({ type: 'NFKD' }, { type: 'StripAccents' });
    if (flag('do_lower_case', true)) normalizers.push({ type: 'Lowercase' });
    normalizers.push(...precompiled, spaces(' '));
    pre = metaspace;
    post = clsSep();
  } else if (layout === 't5-hf') {
    normalizers.push(...precompiled, { type: 'Strip', strip_left: false, strip_right: true }, spaces('\u2581'));
    pre = metaspace;
    post = template([seq('A'), tok('</s>')], [seq('A'), tok('</s>'), seq('B'), tok('</s>')], ['</s>']);
  } else {
    if (legacy) {
      if (addPrefix) normalizers.push({ type: 'Prepend', prepend: '\u2581' });
      normalizers.push({ type: 'Replace', pattern: { String: ' ' }, content: '\u2581' });
    } else {
      pre = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: scheme, split: false };
    }
    decoder = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      ...(addPrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])] };
    const bos = flag('add_bos_token', true) ? specialOf('bos_token').content : null;
    const eos = flag('add_eos_token', false) ? specialOf('eos_token').content : null;
    const one = (id, type_id) => [...(bos ? [tok(bos, type_id)] : []), seq(id, type_id), ...(eos ? [tok(eos, type_id)] : [])];
    if (bos || eos) post = template(one('A', 0), [...one('A', 0), ...one('B', 1)], [bos, eos].filter((t) => t));
  }
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: normalizers.length ? { type: 'Sequence', normalizers } : null,
    pre_tokenizer: pre, post_processor: post, decoder, model,
  };
}
