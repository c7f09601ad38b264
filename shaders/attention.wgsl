// Fused scaled-dot-product attention, forward (flash-attention style): no
// [B, H, Tq, Tk] tensor is ever written. A workgroup of AT_WG threads owns
// one (batch, head) and AT_WG consecutive queries, one query per thread,
// its q row and its output accumulator in registers. Keys and values
// stream through workgroup memory, `tile` rows of each at a time; each
// thread keeps the online softmax's running maximum m and sum l of its
// row, rescaling the accumulator whenever the maximum grows. Rows end as
// out = acc / l and lse = m + log(l).
//
// The logit of query i and key j is q·k·scale, then Gemma 2's soft-cap
// cap·tanh(s/cap) when cap > 0, then the bias; causal, window and key-mask
// masking as Softmax (softmax.wgsl). Under the causal and window masks a
// workgroup only visits the key tiles its queries can see. A row with no
// kept key is uniform over all Tk keys, as Softmax makes it: its output is
// the mean of v and its lse the sentinel AT_MASKED.
//
//   attention  out [B, Tq, H·D], lse [B, H, Tq], q, k, v, keymask, bias
// An absent keymask or bias is a placeholder buffer, its flag bit 0.

struct AttnParams {
    b: u32,
    h: u32,
    hkv: u32,
    tq: u32,
    tk: u32,
    d: u32,
    scale: f32,
    softcap: f32,  // > 0: cap·tanh(s/cap)
    flags: u32,    // AT_* below
    window: u32,   // > 0: sliding window
    tile: u32,     // rows of k (and of v) per workgroup-memory tile
    blocks: u32,   // query blocks per (batch, head): ceil(Tq / AT_WG)
    kv_rows: u32,  // backward: key blocks per (batch, key head)
    mask_off: u32, // backward: offset of the key mask in the stats buffer
    pad0: u32,
    pad1: u32,
}

const AT_WG: u32 = 64u;
const AT_MAXD: u32 = 256u;
const AT_TILE_FLOATS: u32 = 4096u; // 16 KiB: WebGPU's default workgroup storage
const AT_CAUSAL: u32 = 1u;
const AT_KEYMASK: u32 = 2u;
const AT_BIAS: u32 = 4u;
const AT_BIAS_PER_BATCH: u32 = 8u;
const AT_LOWEST: f32 = -3.40282347e+38;
const AT_MASKED: f32 = 3.40282347e+38;

@group(0) @binding(0) var<uniform> at_p: AttnParams;
@group(0) @binding(1) var<storage, read_write> at_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> at_lse: array<f32>;
@group(0) @binding(3) var<storage, read> at_q: array<f32>;
@group(0) @binding(4) var<storage, read> at_k: array<f32>;
@group(0) @binding(5) var<storage, read> at_v: array<f32>;
@group(0) @binding(6) var<storage, read> at_mask: array<f32>;
@group(0) @binding(7) var<storage, read> at_bias: array<f32>;

var<workgroup> at_tile: array<f32, AT_TILE_FLOATS>;

// at_kept reports whether key j survives the masks for query i of batch b.
fn at_kept(b: u32, i: u32, j: u32) -> bool {
    let diag = i32(i) + i32(at_p.tk) - i32(at_p.tq);
    if ((at_p.flags & AT_CAUSAL) != 0u && i32(j) > diag) {
        return false;
    }
    if (at_p.window > 0u && i32(j) <= diag - i32(at_p.window)) {
        return false;
    }
    if ((at_p.flags & AT_KEYMASK) != 0u && at_mask[b * at_p.tk + j] == 0.0) {
        return false;
    }
    return true;
}

// at_logit turns the dot product s of query i (head h, batch b) and key j
// into its logit: scaled, soft-capped, biased.
fn at_logit(s: f32, b: u32, h: u32, i: u32, j: u32) -> f32 {
    var x = s * at_p.scale;
    if (at_p.softcap > 0.0) {
        x = at_p.softcap * tanh(x / at_p.softcap);
    }
    if ((at_p.flags & AT_BIAS) != 0u) {
        var row = h * at_p.tq + i;
        if ((at_p.flags & AT_BIAS_PER_BATCH) != 0u) {
            row = (b * at_p.h + h) * at_p.tq + i;
        }
        x = x + at_bias[row * at_p.tk + j];
    }
    return x;
}

// at_key_range returns the keys [lo, hi) that queries q0..q1−1 can see
// under the causal and window masks (uniform across the workgroup).
fn at_key_range(q0: u32, q1: u32) -> vec2<u32> {
    var lo = 0i;
    var hi = i32(at_p.tk);
    let off = i32(at_p.tk) - i32(at_p.tq);
    if ((at_p.flags & AT_CAUSAL) != 0u) {
        hi = clamp(i32(q1) - 1 + off + 1, 0, i32(at_p.tk));
    }
    if (at_p.window > 0u) {
        lo = clamp(i32(q0) + off - i32(at_p.window) + 1, 0, hi);
    }
    return vec2<u32>(u32(lo), u32(max(hi, lo)));
}

@compute @workgroup_size(64)
fn attention(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    if (g >= at_p.b * at_p.h * at_p.blocks) {
        return;
    }
    let d = at_p.d;
    let bh = g / at_p.blocks;
    let b = bh / at_p.h;
    let h = bh % at_p.h;
    let kh = h / (at_p.h / at_p.hkv);
    let q0 = (g % at_p.blocks) * AT_WG;
    let q1 = min(q0 + AT_WG, at_p.tq);
    let i = q0 + lid;
    let valid = i < at_p.tq;
    let kvbase = (b * at_p.hkv + kh) * at_p.tk * d;

    var qv: array<f32, AT_MAXD>;
    var acc: array<f32, AT_MAXD>;
    if (valid) {
        let qbase = (bh * at_p.tq + i) * d;
        for (var x = 0u; x < d; x++) {
            qv[x] = at_q[qbase + x];
            acc[x] = 0.0;
        }
    }
    var m = AT_LOWEST;
    var l = 0.0;
    let kr = at_key_range(q0, q1);
    let vt = at_p.tile * d; // the v rows follow the k rows in at_tile
    for (var k0 = kr.x; k0 < kr.y; k0 += at_p.tile) {
        let nk = min(at_p.tile, kr.y - k0);
        workgroupBarrier();
        for (var e = lid; e < nk * d; e += AT_WG) {
            at_tile[e] = at_k[kvbase + k0 * d + e];
            at_tile[vt + e] = at_v[kvbase + k0 * d + e];
        }
        workgroupBarrier();
        if (valid) {
            for (var jj = 0u; jj < nk; jj++) {
                let j = k0 + jj;
                if (!at_kept(b, i, j)) {
                    continue;
                }
                var s = 0.0;
                for (var x = 0u; x < d; x++) {
                    s += qv[x] * at_tile[jj * d + x];
                }
                let z = at_logit(s, b, h, i, j);
                if (z > m) {
                    let c = exp(m - z);
                    l = l * c + 1.0;
                    for (var x = 0u; x < d; x++) {
                        acc[x] = acc[x] * c + at_tile[vt + jj * d + x];
                    }
                    m = z;
                } else {
                    let pz = exp(z - m);
                    l += pz;
                    for (var x = 0u; x < d; x++) {
                        acc[x] += pz * at_tile[vt + jj * d + x];
                    }
                }
            }
        }
    }
    if (!valid) {
        return;
    }
    let obase = (b * at_p.tq + i) * at_p.h * d + h * d;
    let row = bh * at_p.tq + i;
    if (l == 0.0) {
        // No kept key: Softmax's uniform row, the mean of every value.
        for (var x = 0u; x < d; x++) {
            acc[x] = 0.0;
        }
        for (var j = 0u; j < at_p.tk; j++) {
            for (var x = 0u; x < d; x++) {
                acc[x] += at_v[kvbase + j * d + x];
            }
        }
        let inv = 1.0 / f32(at_p.tk);
        for (var x = 0u; x < d; x++) {
            at_out[obase + x] = acc[x] * inv;
        }
        at_lse[row] = AT_MASKED;
        return;
    }
    let inv = 1.0 / l;
    for (var x = 0u; x < d; x++) {
        at_out[obase + x] = acc[x] * inv;
    }
    at_lse[row] = m + log(l);
}
