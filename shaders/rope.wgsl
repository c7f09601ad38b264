// Rotary position embedding on x [B, H, T, D] in the rotate_half ("neox")
// layout transformers' Llama uses: with half = R/2 and i < half,
//   out[i]        = x[i]·cos - x[i + half]·sin
//   out[i + half] = x[i + half]·cos + x[i]·sin
// where the angle of feature i at position pos is the float32 product
// pos·inv_freq[i], as transformers computes it. Features at or past R are
// copied. Inverse rotates by the negative angle (the backward pass). One
// thread per element, launched with groups1D (linear_index of common.wgsl
// recovers the index).
//
//   rope  out, x, inv_freq, positions (I32 [T] or [B, T])

struct RopeParams {
    n: u32,     // elements of x
    d: u32,
    t: u32,
    h: u32,
    r: u32,     // rotated features, 2·len(inv_freq)
    flags: u32, // bit 0: inverse; bit 1: positions are per batch [B, T]
    pad0: u32,
    pad1: u32,
}

const ROPE_WG: u32 = 256u;
const ROPE_INVERSE: u32 = 1u;
const ROPE_PER_BATCH: u32 = 2u;

@group(0) @binding(0) var<uniform> rope_p: RopeParams;
@group(0) @binding(1) var<storage, read_write> rope_out: array<f32>;
@group(0) @binding(2) var<storage, read> rope_x: array<f32>;
@group(0) @binding(3) var<storage, read> rope_inv_freq: array<f32>;
@group(0) @binding(4) var<storage, read> rope_pos: array<i32>;

// rope_sincos returns (sin a, cos a) within 1.2e-7 for |a| up to 4·10^5
// (positions that far at inv_freq 1). WGSL's own sin and cos promise only
// 2^-11 absolute error inside [-π, π] and nothing outside, while positions
// make angles of thousands of radians. So a is reduced by k multiples of
// π/2, with π/2 split into parts of at most 6 significant bits (the last
// one float32) so that every product k·part is exact for k < 2^18 and each
// subtraction is exact or rounds only the small result; then minimax
// polynomials evaluate sin and cos on [-π/4, π/4].
fn rope_sincos(a: f32) -> vec2<f32> {
    let k = round(a * 0.636619772367581343);
    var r = a - k * 1.5625;
    r = r - k * 0.008056640625;
    r = r - k * 0.00023651123046875;
    r = r - k * 3.159046173095703e-06;
    r = r - k * 1.5832483768463135e-08;
    r = r - k * 6.07710062827671e-11;
    let z = r * r;
    let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
    let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
    switch (i32(k) & 3) {
        case 0: { return vec2<f32>(s, c); }
        case 1: { return vec2<f32>(c, -s); }
        case 2: { return vec2<f32>(-s, -c); }
        default: { return vec2<f32>(-c, s); }
    }
}

@compute @workgroup_size(256)
fn rope(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_index(gid, nwg, ROPE_WG);
    if (e >= rope_p.n) {
        return;
    }
    let d = rope_p.d;
    let f = e % d;
    if (f >= rope_p.r) {
        rope_out[e] = rope_x[e];
        return;
    }
    let row = e / d;            // (b·H + h)·T + t
    let t = row % rope_p.t;
    var pi = t;
    if ((rope_p.flags & ROPE_PER_BATCH) != 0u) {
        pi = (row / (rope_p.t * rope_p.h)) * rope_p.t + t;
    }
    let half = rope_p.r / 2u;
    let i = f % half;
    let sc = rope_sincos(f32(rope_pos[pi]) * rope_inv_freq[i]);
    var sn = sc.x;
    if ((rope_p.flags & ROPE_INVERSE) != 0u) {
        sn = -sn;
    }
    if (f < half) {
        rope_out[e] = rope_x[e] * sc.y - rope_x[e + half] * sn;
    } else {
        rope_out[e] = rope_x[e] * sc.y + rope_x[e - half] * sn;
    }
}
