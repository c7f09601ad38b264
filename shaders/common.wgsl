// common.wgsl is prepended to every kernel file (see shaders.go).
//
// Conventions:
//   - Uniform parameters live at @group(0) @binding(0); tensors are bound
//     from @binding(1) on, as var<storage, read> or var<storage, read_write>.
//   - F16 and BF16 tensors are packed two elements per u32 word: element i is
//     in word i/2, the low half holding the even element.
//   - 1-D kernels are launched with groups folded into y when they exceed
//     65535 workgroups; linear_index recovers the flat index.

// linear_index returns the flat invocation index of a 1-D launch whose
// workgroup size is wg, folded over x and y by the host.
fn linear_index(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
    return gid.x + gid.y * (nwg.x * wg);
}

// unpack_f16 widens the low (hi = false) or high (hi = true) IEEE half of w.
fn unpack_f16(w: u32, hi: bool) -> f32 {
    let v = unpack2x16float(w);
    return select(v.x, v.y, hi);
}

// unpack_bf16 widens the low or high bfloat16 half of w: a bfloat16 is the
// top 16 bits of a float32.
fn unpack_bf16(w: u32, hi: bool) -> f32 {
    let bits = select(w << 16u, w & 0xffff0000u, hi);
    return bitcast<f32>(bits);
}

// Dtype codes passed to kernels that read weights of any float storage type.
const DT_F32: u32 = 0u;
const DT_F16: u32 = 1u;
const DT_BF16: u32 = 2u;

// load_w widens element i of a tensor of dtype dt (DT_F32, DT_F16 or DT_BF16)
// stored as raw u32 words, given word = words[word_index(dt, i)].
fn load_w(word: u32, dt: u32, i: u32) -> f32 {
    if (dt == DT_F32) {
        return bitcast<f32>(word);
    }
    let hi = (i & 1u) == 1u;
    if (dt == DT_F16) {
        return unpack_f16(word, hi);
    }
    return unpack_bf16(word, hi);
}

// word_index returns the u32 word holding element i of dtype dt.
fn word_index(dt: u32, i: u32) -> u32 {
    return select(i >> 1u, i, dt == DT_F32);
}

// is_finite_bits reports whether x is neither NaN nor ±Inf by its exponent
// bits (x != x may be folded away by shader compilers).
fn is_finite_bits(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// ---- Quantized weights (package quant; docs/quantization.md) ----
//
// A Q8_0 or NF4 tensor of n elements, logically [R, C] and quantized along
// C, is bound as raw u32 words: its storage bytes exactly as package quant
// lays them out, zero-padded to a whole word, followed for NF4 by the two
// lookup tables as float32 bits (NF4 at word nf4_table_word(n), Dynamic8
// at 16 words later), uploaded by the host from package quant so that the
// tables have one source. Element i is the flat row-major index r·C + c;
// the block maths only needs n, so any 2-D view of the tensor reads the
// same elements. Kernels fetch the words these functions name from their
// own binding and pass them in.

const DT_Q8_0: u32 = 3u;
const DT_NF4: u32 = 4u;

// half_to_f32 widens IEEE binary16 bits exactly, subnormals included
// (unpack2x16float may flush them to zero, and a Q8_0 block of small
// weights has a subnormal scale).
fn half_to_f32(h: u32) -> f32 {
    let s = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let f = h & 0x3ffu;
    if (e == 0u) {
        // f · 2^-24: exact, and a normal float32.
        return bitcast<f32>(s | bitcast<u32>(f32(f) * 5.9604644775390625e-8));
    }
    if (e == 31u) {
        return bitcast<f32>(s | 0x7f800000u | (f << 13u));
    }
    return bitcast<f32>(s | ((e + 112u) << 23u) | (f << 13u));
}

// q8_scale_word is the word holding the float16 scale of element i's block
// of 32 (the scales follow the n int8 codes; word i/4 holds the code).
fn q8_scale_word(n: u32, i: u32) -> u32 {
    return (n >> 2u) + (i >> 6u);
}

// q8_value is element i of a Q8_0 tensor: scale · code, from the words
// i/4 (codes) and q8_scale_word(n, i).
fn q8_value(code_word: u32, scale_word: u32, i: u32) -> f32 {
    let code = i32(code_word << (24u - 8u * (i & 3u))) >> 24u;
    let half = select(scale_word & 0xffffu, scale_word >> 16u, ((i >> 5u) & 1u) == 1u);
    return half_to_f32(half) * f32(code);
}

// nf4_absmax_word is the word holding the 8-bit absmax code of element i's
// block of 64 (the codes follow the n/2 bytes of nibbles).
fn nf4_absmax_word(n: u32, i: u32) -> u32 {
    return (n >> 3u) + (i >> 8u);
}

// nf4_group_word is the word of the float32 scale of element i's group of
// 256 blocks (after the absmax codes, padded to a word).
fn nf4_group_word(n: u32, i: u32) -> u32 {
    return (n >> 3u) + (((n >> 6u) + 3u) >> 2u) + (i >> 14u);
}

// nf4_offset_word is the word of the float32 offset added to every absmax.
fn nf4_offset_word(n: u32) -> u32 {
    let nb = n >> 6u;
    return (n >> 3u) + ((nb + 3u) >> 2u) + ((nb + 255u) >> 8u);
}

// nf4_table_word is the word where the NF4 table (16 float32) starts; the
// Dynamic8 table (256 float32) follows it.
fn nf4_table_word(n: u32) -> u32 {
    return nf4_offset_word(n) + 1u;
}

// nf4_code is element i's 4-bit code from word i/8: element 2j is the high
// nibble of byte j, element 2j+1 the low one.
fn nf4_code(code_word: u32, i: u32) -> u32 {
    let byte = (code_word >> (8u * ((i >> 1u) & 3u))) & 0xffu;
    return select(byte >> 4u, byte & 15u, (i & 1u) == 1u);
}

// nf4_acode is the absmax code of element i's block from
// nf4_absmax_word(n, i).
fn nf4_acode(absmax_word: u32, i: u32) -> u32 {
    return (absmax_word >> (8u * ((i >> 6u) & 3u))) & 0xffu;
}

// nf4_absmax is a block's absmax, Dynamic8[acode] · group scale + offset,
// in float32, rounded after each operation as package quant computes it.
// nofuse must be a zero the compiler cannot see (a uniform field): OR-ing
// it into the product's bits keeps drivers from contracting the product
// and the sum into one fma, which rounds once and would break bit-identity
// with the CPU.
fn nf4_absmax(dyn8: f32, group_scale: f32, offset: f32, nofuse: u32) -> f32 {
    let p = bitcast<f32>(bitcast<u32>(dyn8 * group_scale) | nofuse);
    return p + offset;
}
