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
