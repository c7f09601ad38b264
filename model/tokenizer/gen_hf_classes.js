#!/usr/bin/env node
// Generates hf_classes.go: the character classes Hugging Face tokenizers
// actually uses, found by probing its Rust library (the `tokenizers` npm
// package, a Node binding) over every code point. The library's regexes run
// on Oniguruma (Unicode 16 in tokenizers 0.23), its BERT and other
// components on Rust's char methods and the unicode_categories crate (an
// older Unicode), so neither matches Go's Unicode 15 tables exactly.
//
// Usage (from this directory):
//   npm install --prefix /tmp/ia3-hf tokenizers@0.23.2
//   node gen_hf_classes.js /tmp/ia3-hf/node_modules && gofmt -w hf_classes.go
'use strict';

const fs = require('fs');
const path = require('path');

const nodeModules = process.argv[2];
if (!nodeModules) {
  console.error('usage: node gen_hf_classes.js NODE_MODULES');
  process.exit(2);
}
const hf = require(path.join(nodeModules, 'tokenizers'));
const version = require(path.join(nodeModules, 'tokenizers', 'package.json')).version;

const maxRune = 0x10ffff;
const chunk = 0x10000;

// codePoints returns the scalar values of [lo, hi) (surrogates excluded).
function codePoints(lo, hi) {
  const out = [];
  for (let c = lo; c < hi; c++) {
    if (c < 0xd800 || c > 0xdfff) out.push(c);
  }
  return out;
}

// probeSplit returns the set of code points a pre-tokenizer removes: it is
// run on runs of consecutive code points and every code point no piece
// covers is in the set.
function probeSplit(pre) {
  const set = new Set();
  for (let lo = 0; lo <= maxRune; lo += chunk) {
    const cps = codePoints(lo, Math.min(lo + chunk, maxRune + 1));
    const covered = new Uint8Array(cps.length);
    for (const [, [s, e]] of pre.preTokenizeString(String.fromCodePoint(...cps))) {
      for (let i = s; i < e; i++) covered[i] = 1;
    }
    cps.forEach((c, i) => { if (!covered[i]) set.add(c); });
  }
  return set;
}

// probeIsolated returns the set of code points a pre-tokenizer makes words
// of their own when each sits between two 'a's.
function probeIsolated(pre) {
  const set = new Set();
  for (let lo = 0; lo <= maxRune; lo += chunk) {
    const cps = codePoints(lo, Math.min(lo + chunk, maxRune + 1)).filter((c) => c !== 0x61);
    const text = 'a' + cps.map((c) => String.fromCodePoint(c) + 'a').join('');
    // Code point i sits at index 2i+1 of text.
    for (const [, [s, e]] of pre.preTokenizeString(text)) {
      if (e === s + 1 && s % 2 === 1) set.add(cps[(s - 1) / 2]);
    }
  }
  return set;
}

// probeJoined returns the set of code points a pre-tokenizer keeps in one
// word with the 'a's around them.
function probeJoined(pre) {
  const set = new Set([0x61]);
  for (let lo = 0; lo <= maxRune; lo += chunk) {
    const cps = codePoints(lo, Math.min(lo + chunk, maxRune + 1)).filter((c) => c !== 0x61);
    const text = 'a' + cps.map((c) => String.fromCodePoint(c) + 'a').join('');
    // Code point i sits at index 2i+1 of text.
    for (const [, [s, e]] of pre.preTokenizeString(text)) {
      for (let k = s + 1; k < e; k += 2) if (s % 2 === 0) set.add(cps[(k - 1) / 2]);
    }
  }
  return set;
}

// probeNormalized returns, for every code point, what a normalizer makes
// of it when it stands between sep characters (which the normalizer must
// leave alone): a map from code point to output, for outputs that differ.
function probeNormalized(norm, sep) {
  const out = new Map();
  for (let lo = 0; lo <= maxRune; lo += chunk) {
    const cps = codePoints(lo, Math.min(lo + chunk, maxRune + 1)).filter((c) => c !== sep.codePointAt(0));
    const text = sep + cps.map((c) => String.fromCodePoint(c) + sep).join('');
    const parts = norm.normalizeString(text).split(sep);
    if (parts.length !== cps.length + 2) throw new Error(`normalizer output has ${parts.length} parts for ${cps.length} code points`);
    cps.forEach((c, i) => {
      const r = parts[i + 1];
      if (r !== String.fromCodePoint(c)) out.set(c, r);
    });
  }
  return out;
}

// ranges turns a set of code points into sorted inclusive ranges.
function ranges(set) {
  const cs = [...set].sort((a, b) => a - b);
  const out = [];
  for (const c of cs) {
    const last = out[out.length - 1];
    if (last && last[1] === c - 1) last[1] = c;
    else out.push([c, c]);
  }
  return out;
}

const hex = (c) => '0x' + c.toString(16).padStart(4, '0');

// rangeTable writes a set as a Go unicode.RangeTable literal.
function rangeTable(set) {
  const rs = ranges(set);
  const r16 = rs.filter(([, hi]) => hi <= 0xffff);
  const r32 = rs.filter(([lo]) => lo > 0xffff);
  const split = rs.find(([lo, hi]) => lo <= 0xffff && hi > 0xffff);
  if (split) {
    r16.push([split[0], 0xffff]);
    r32.unshift([0x10000, split[1]]);
  }
  const latin = r16.filter(([, hi]) => hi <= 0xff).length;
  let s = '&unicode.RangeTable{\n';
  if (r16.length) s += '\tR16: []unicode.Range16{\n' + r16.map(([a, b]) => `\t\t{${hex(a)}, ${hex(b)}, 1},\n`).join('') + '\t},\n';
  if (r32.length) s += '\tR32: []unicode.Range32{\n' + r32.map(([a, b]) => `\t\t{${hex(a)}, ${hex(b)}, 1},\n`).join('') + '\t},\n';
  if (latin) s += `\tLatinOffset: ${latin},\n`;
  return s + '}';
}

// goString writes s as a Go string literal with non-ASCII escaped.
const goString = (s) => '"' + [...s].map((c) => {
  const cp = c.codePointAt(0);
  if (c === '"' || c === '\\') return '\\' + c;
  if (cp >= 0x20 && cp < 0x7f) return c;
  return cp > 0xffff ? '\\U' + cp.toString(16).padStart(8, '0') : '\\u' + cp.toString(16).padStart(4, '0');
}).join('') + '"';

// regexSplit returns a Split pre-tokenizer on a regex, behaviour Removed.
// (The binding's splitPreTokenizer takes its pattern as a literal string,
// so it goes through a tokenizer.json.)
function regexSplit(regex) {
  return hf.Tokenizer.fromString(JSON.stringify({
    version: '1.0',
    added_tokens: [],
    pre_tokenizer: { type: 'Split', pattern: { Regex: regex }, behavior: 'Removed', invert: false },
    model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' },
  })).getPreTokenizer();
}

// Oniguruma's classes, probed as what a Split on each removes.
const onigNames = ['L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'M', 'Mn', 'Mc', 'Me', 'N', 'Nd', 'Nl', 'No',
  'P', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'S', 'Sm', 'Sc', 'Sk', 'So', 'Z', 'Zs', 'Zl', 'Zp',
  'C', 'Cc', 'Cf', 'Co', 'Cn'];
const onig = {};
for (const n of onigNames) onig[`\\p{${n}}`] = probeSplit(regexSplit(`\\p{${n}}`));
for (const e of ['\\s', '\\w', '\\d']) onig[e] = probeSplit(regexSplit(e));

const sep = '\u0001';
const bertClean = probeNormalized(hf.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false }), 'a');
const nfd = probeNormalized(hf.nfdNormalizer(), sep);
const bertStrip = probeNormalized(hf.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false }), sep);
const stripAccents = probeNormalized(hf.stripAccentsNormalizer(), sep);
const lower = probeNormalized(hf.lowercase(), sep);

// probeReordered returns the code points c (of those without a
// decomposition) for which NFD reorders sep+before+c+after+sep, i.e. whose
// combining class compares with that of before or after.
function probeReordered(before, after) {
  const set = new Set();
  const norm = hf.nfdNormalizer();
  for (let lo = 0; lo <= maxRune; lo += chunk) {
    const cps = codePoints(lo, Math.min(lo + chunk, maxRune + 1)).filter((c) => c !== sep.codePointAt(0) && !nfd.has(c));
    const parts = norm.normalizeString(sep + cps.map((c) => before + String.fromCodePoint(c) + after + sep).join('')).split(sep);
    cps.forEach((c, i) => {
      if (parts[i + 1] !== before + String.fromCodePoint(c) + after) set.add(c);
    });
  }
  return set;
}

// A rune without a decomposition has a non-zero combining class for HF's normalizer when it moves
// before U+0301 (class 230, so the rune's class is 1..229) or behind
// U+0334 (class 1, so the rune's class is above 1).
const combining = new Set([...probeReordered('\u0301', ''), ...probeReordered('', '\u0334')]);
// Runes newer Unicode decomposes (JavaScript's normalize) but HF's older
// normalization tables leave alone.
const noDecomp = new Set();
const nfkd = probeNormalized(hf.nfkdNormalizer(), sep);
for (let c = 0; c <= maxRune; c++) {
  if ((c >= 0xd800 && c <= 0xdfff) || c === 1) continue;
  const s = String.fromCodePoint(c);
  if (!nfkd.has(c) && s.normalize('NFKD') !== s) noDecomp.add(c);
}

const classes = {
  hfCombining: ['holds the runes with a non-zero canonical combining class in HF\'s\n// normalization tables (an older Unicode than Go\'s).', combining],
  hfNoDecomposition: ['holds the runes that HF\'s normalization tables do not decompose\n// (canonically or for compatibility) though newer Unicode does.', noDecomp],
  hfWhitespace: ['is Rust\'s char::is_whitespace (WhitespaceSplit, Strip, BERT\'s white space).',
    probeSplit(hf.whitespaceSplitPreTokenizer())],
  hfWordRegex: ['is \\w of the Rust regex crate, which the Whitespace pre-tokenizer\n// (\\w+|[^\\w\\s]+) uses.', probeJoined(hf.whitespacePreTokenizer())],
  hfBertPunct: ['is what BertPreTokenizer isolates as punctuation.', probeIsolated(hf.bertPreTokenizer())],
  hfNumeric: ['is Rust\'s char::is_numeric, what the Digits pre-tokenizer isolates.', probeIsolated(hf.digitsPreTokenizer(true))],
  hfBertControl: ['is what BertNormalizer\'s clean_text removes (U+0000 and U+FFFD included).',
    new Set([...bertClean].filter(([, r]) => r === '').map(([c]) => c))],
  hfBertSpace: ['is what BertNormalizer\'s clean_text turns into a space.',
    new Set([...bertClean].filter(([, r]) => r === ' ').map(([c]) => c))],
  hfNonspacingMark: ['is the unicode_categories crate\'s Mn, what BertNormalizer\'s strip_accents removes\n// after NFD.',
    new Set([...bertStrip].filter(([c, r]) => r === '' && !nfd.has(c)).map(([c]) => c))],
  hfMark: ['is what the StripAccents normalizer removes (combining marks).',
    new Set([...stripAccents].filter(([, r]) => r === '').map(([c]) => c))],
};

let go = `// Code generated by gen_hf_classes.js from tokenizers@${version}; DO NOT EDIT.

package tokenizer

import "unicode"

// onigClasses holds the classes of the tokenizers library's Oniguruma
// regexes, keyed by the escape that names them in a pattern.
var onigClasses = map[string]*unicode.RangeTable{
`;
for (const [k, set] of Object.entries(onig)) go += `\t${goString(k)}: ${rangeTable(set)},\n`;
go += '}\n';
for (const [name, [doc, set]] of Object.entries(classes)) go += `\n// ${name} ${doc}\nvar ${name} = ${rangeTable(set)}\n`;
go += '\n// hfLowercase maps every rune the Lowercase normalizer changes to its\n// lowercase (Rust\'s char::to_lowercase).\nvar hfLowercase = map[rune]string{\n';
for (const [c, r] of [...lower].sort((a, b) => a[0] - b[0])) go += `\t${hex(c)}: ${goString(r)},\n`;
go += '}\n';
fs.writeFileSync(path.join(__dirname, 'hf_classes.go'), go);
