// moe.wgsl: mixture-of-experts routing on the device.
//
//   top_k          out I32 [N, k], x F32 [N, E]: one thread per row
//   expert_linear  out F32 [N·k, dout], x F32 [N or N·k, din], w one expert's
//                  weight [R, C] as raw u32 words (F32, F16, BF16, Q8_0 or
//                  NF4), ids I32 [N·k], flag: one thread per output element
//
// top_k picks each row's k largest values by k scans, each taking the
// greatest element ordered after the previous pick by (value descending,
// index ascending), so equal values go to the lower index and a thread
// keeps no array of taken experts. A row holding a NaN (its softmax is all
// NaN, all tied) gives 0..k−1. NaN is detected by its bits, which shader
// compilers may not fold away as they may fold x != x.

struct TopKParams {
    n: u32,
    e: u32,
    k: u32,
}

const MOE_WG: u32 = 64u;

@group(0) @binding(0) var<uniform> tk_p: TopKParams;
@group(0) @binding(1) var<storage, read_write> tk_out: array<i32>;
@group(0) @binding(2) var<storage, read> tk_x: array<f32>;

fn is_nan_bits(v: f32) -> bool {
    let b = bitcast<u32>(v);
    return (b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0u;
}

@compute @workgroup_size(64)
fn top_k(@builtin(global_invocation_id) gid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = linear_index(gid, nwg, MOE_WG);
    if (r >= tk_p.n) {
        return;
    }
    let e = tk_p.e;
    let k = tk_p.k;
    let base = r * e;
    var nan = false;
    for (var c = 0u; c < e; c = c + 1u) {
        nan = nan || is_nan_bits(tk_x[base + c]);
    }
    if (nan) {
        for (var j = 0u; j < k; j = j + 1u) {
            tk_out[r * k + j] = i32(j);
        }
        return;
    }
    var prev = -1;
    var pv = 0.0;
    for (var j = 0u; j < k; j = j + 1u) {
        var best = -1;
        var bv = 0.0;
        for (var c = 0u; c < e; c = c + 1u) {
            let v = tk_x[base + c];
            if (prev >= 0 && (v > pv || (v == pv && i32(c) <= prev))) {
                continue;
            }
            if (best < 0 || v > bv) {
                best = i32(c);
                bv = v;
            }
        }
        tk_out[r * k + j] = best;
        prev = best;
        pv = bv;
    }
}

// expert_linear is ExpertLinear for one expert e and one part of its
// weight: the host dispatches it once per expert (and per part of a weight
// split by rows over the binding limit), so the weights need not be
// stacked into one buffer and the ids never leave the device. The bound
// part holds rows [lo, lo + rows) of the weight [R, C]. Thread (s, c)
// computes output c of slot s when ids[s] is e and returns at once
// otherwise. The forward reads W[c, i] (y = x·Wᵀ, din = C): the part owning
// row c writes it. The backward reads W[i, c] (y = x·W, din = R): every
// part adds its rows' terms, the first writing and the others adding. An id
// outside [0, experts) is written as zeros by the first dispatch, which
// sets the op's bit in the device error flag.

struct ExpertParams {
    n: u32,       // output elements: N·k·dout
    dout: u32,
    din: u32,
    k: u32,
    bcast: u32,   // 1: x is [N, din], read by all k slots of a token
    backward: u32,
    e: u32,       // the expert this dispatch runs
    experts: u32,
    w_dt: u32,    // DT_* of common.wgsl
    cols: u32,    // C, the weight's in features
    nw: u32,      // the part's element count (quantized layout)
    bit: u32,
    zero: u32,    // always 0: nf4_absmax's opaque zero
    lo: u32,      // the part's first row of the weight
    rows: u32,    // the part's row count
    first: u32,   // 1 for the first dispatch of the op (expert 0, part 0)
    add: u32,     // backward: 1 to add to the output (a later part)
}

@group(0) @binding(0) var<uniform> ex_p: ExpertParams;
@group(0) @binding(1) var<storage, read_write> ex_out: array<f32>;
@group(0) @binding(2) var<storage, read> ex_x: array<f32>;
@group(0) @binding(3) var<storage, read> ex_w: array<u32>;
@group(0) @binding(4) var<storage, read> ex_ids: array<i32>;
@group(0) @binding(5) var<storage, read_write> ex_flag: array<atomic<u32>>;

// ex_weight is element i (row-major) of the expert's weight, widened or
// dequantized as matmul.wgsl's load_b and load_bq do.
fn ex_weight(i: u32) -> f32 {
    let dt = ex_p.w_dt;
    if (dt == DT_Q8_0) {
        return q8_value(ex_w[i >> 2u], ex_w[q8_scale_word(ex_p.nw, i)], i);
    }
    if (dt == DT_NF4) {
        let n = ex_p.nw;
        let t = nf4_table_word(n);
        let acode = nf4_acode(ex_w[nf4_absmax_word(n, i)], i);
        let a = nf4_absmax(bitcast<f32>(ex_w[t + 16u + acode]), bitcast<f32>(ex_w[nf4_group_word(n, i)]),
                           bitcast<f32>(ex_w[nf4_offset_word(n)]), ex_p.zero);
        return bitcast<f32>(ex_w[t + nf4_code(ex_w[i >> 3u], i)]) * a;
    }
    return load_w(ex_w[word_index(dt, i)], dt, i);
}

@compute @workgroup_size(64)
fn expert_linear(@builtin(global_invocation_id) gid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, MOE_WG);
    if (t >= ex_p.n) {
        return;
    }
    let s = t / ex_p.dout;
    let c = t % ex_p.dout;
    let id = ex_ids[s];
    if (id < 0 || u32(id) >= ex_p.experts) {
        if (ex_p.first == 1u) {
            ex_out[t] = 0.0;
            if (c == 0u) {
                atomicOr(&ex_flag[0], ex_p.bit);
            }
        }
        return;
    }
    if (u32(id) != ex_p.e) {
        return;
    }
    let row = select(s, s / ex_p.k, ex_p.bcast == 1u);
    let xb = row * ex_p.din;
    var acc = 0.0;
    if (ex_p.backward == 1u) {
        let xp = xb + ex_p.lo;
        for (var i = 0u; i < ex_p.rows; i = i + 1u) {
            acc = acc + ex_x[xp + i] * ex_weight(i * ex_p.cols + c);
        }
        if (ex_p.add == 1u) {
            acc = ex_out[t] + acc;
        }
    } else {
        if (c < ex_p.lo || c - ex_p.lo >= ex_p.rows) {
            return;
        }
        let wb = (c - ex_p.lo) * ex_p.cols;
        for (var i = 0u; i < ex_p.din; i = i + 1u) {
            acc = acc + ex_x[xb + i] * ex_weight(wb + i);
        }
    }
    ex_out[t] = acc;
}
