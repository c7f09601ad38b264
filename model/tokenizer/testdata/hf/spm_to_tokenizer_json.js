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
'use strict';

const fs = require('fs');
const path = require('path');

const [modelFile, layout, outDir] = process.argv.slice(2);
if (!modelFile || !['albert', 't5', 't5new'].includes(layout) || !outDir) {
  console.error('usage: node spm_to_tokenizer_json.js SPIECE_MODEL albert|t5|t5new OUT_DIR');
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
