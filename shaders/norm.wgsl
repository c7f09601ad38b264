// Normalisation over the last axis: LayerNorm and RMSNorm, forward and the
// input gradient. One workgroup of 256 threads owns one row of length d; each
// thread walks the row with stride 256 and the partial sums meet in a
// shared-memory tree, so rows of any length work and the summation order is
// fixed (the result is deterministic). The mean and the variance take two
// passes over the row: the variance sums (x - mean)², which stays accurate
// when |mean| is large against the spread.
//
// Workgroups are numbered in 2-D (x folds at 65535), row = wid.x + wid.y·nwg.x.
// Every entry point binds its output first, then its inputs:
//   layernorm           out, x, gamma, beta
//   layernorm_backward  out (dx), x, gamma, dy
//   rmsnorm             out, x, w
//   rmsnorm_backward    out (dx), x, w, dy
//   add_layernorm       out (y), a, gamma, beta, b, sum
//   add_rmsnorm         out (y), a, w, (placeholder), b, sum
//   layernorm_backward_add  out (dx + dres), x, gamma, dy, dres
//   rmsnorm_backward_add    out (dx + dres), x, w, dy, dres
// The fused entries (AddNorm, NormBackwardAdd) add the residual stream in
// the same pass: the add_ entries write sum = a + b and normalise it, each
// thread reading back only the elements it wrote (no barrier needed), in
// the order the plain entries read x, so both give the same bits.
// An absent gamma/beta/w is replaced by a placeholder buffer and the
// matching flag bit is 0, so that it is never read.

struct NormParams {
    rows: u32,
    d: u32,
    eps: f32,
    flags: u32, // bit 0: weight (gamma / w) present; bit 1: beta present
}

const NORM_WG: u32 = 256u;
const NORM_HAS_W: u32 = 1u;
const NORM_HAS_B: u32 = 2u;

@group(0) @binding(0) var<uniform> norm_p: NormParams;
@group(0) @binding(1) var<storage, read_write> norm_out: array<f32>;
@group(0) @binding(2) var<storage, read> norm_x: array<f32>;
@group(0) @binding(3) var<storage, read> norm_w: array<f32>;
@group(0) @binding(4) var<storage, read> norm_v: array<f32>; // beta or dy

@group(0) @binding(5) var<storage, read> norm_r: array<f32>; // fused: b or dres
@group(0) @binding(6) var<storage, read_write> norm_sum: array<f32>; // add_: a + b

var<workgroup> norm_red: array<vec2<f32>, NORM_WG>;

// norm_sum2 returns the workgroup-wide sum of v (two sums at once). Every
// thread of the workgroup must call it; the barriers at the end leave the
// shared array free for the next call.
fn norm_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
    norm_red[lid] = v;
    workgroupBarrier();
    for (var s = NORM_WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            norm_red[lid] = norm_red[lid] + norm_red[lid + s];
        }
        workgroupBarrier();
    }
    let r = norm_red[0];
    workgroupBarrier();
    return r;
}

fn norm_weight(i: u32) -> f32 {
    if ((norm_p.flags & NORM_HAS_W) != 0u) {
        return norm_w[i];
    }
    return 1.0;
}

// norm_moments returns (mean, 1/sqrt(var + eps)) of the row starting at base,
// with the biased variance torch's LayerNorm uses.
fn norm_moments(base: u32, lid: u32) -> vec2<f32> {
    let d = norm_p.d;
    var s = 0.0;
    for (var i = lid; i < d; i = i + NORM_WG) {
        s = s + norm_x[base + i];
    }
    let mean = norm_sum2(vec2<f32>(s, 0.0), lid).x / f32(d);
    var q = 0.0;
    for (var i = lid; i < d; i = i + NORM_WG) {
        let c = norm_x[base + i] - mean;
        q = q + c * c;
    }
    let variance = norm_sum2(vec2<f32>(q, 0.0), lid).x / f32(d);
    return vec2<f32>(mean, 1.0 / sqrt(variance + norm_p.eps));
}

// norm_rms_inv returns 1/sqrt(mean(x²) + eps) of the row starting at base.
fn norm_rms_inv(base: u32, lid: u32) -> f32 {
    let d = norm_p.d;
    var q = 0.0;
    for (var i = lid; i < d; i = i + NORM_WG) {
        let v = norm_x[base + i];
        q = q + v * v;
    }
    let ms = norm_sum2(vec2<f32>(q, 0.0), lid).x / f32(d);
    return 1.0 / sqrt(ms + norm_p.eps);
}

// y = (x - mean)·rstd ⊙ gamma + beta
@compute @workgroup_size(256)
fn layernorm(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= norm_p.rows) {
        return;
    }
    let d = norm_p.d;
    let base = row * d;
    let m = norm_moments(base, lid);
    let has_b = (norm_p.flags & NORM_HAS_B) != 0u;
    for (var i = lid; i < d; i = i + NORM_WG) {
        var y = (norm_x[base + i] - m.x) * m.y * norm_weight(i);
        if (has_b) {
            y = y + norm_v[i];
        }
        norm_out[base + i] = y;
    }
}

// With x̂ = (x - mean)·rstd and g = dy ⊙ gamma:
// dx = rstd · (g - mean(g) - x̂ · mean(g ⊙ x̂)).
@compute @workgroup_size(256)
fn layernorm_backward(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= norm_p.rows) {
        return;
    }
    let d = norm_p.d;
    let base = row * d;
    let m = norm_moments(base, lid);
    var acc = vec2<f32>(0.0, 0.0);
    for (var i = lid; i < d; i = i + NORM_WG) {
        let g = norm_v[base + i] * norm_weight(i);
        let xh = (norm_x[base + i] - m.x) * m.y;
        acc = acc + vec2<f32>(g, g * xh);
    }
    let sums = norm_sum2(acc, lid) / f32(d);
    for (var i = lid; i < d; i = i + NORM_WG) {
        let g = norm_v[base + i] * norm_weight(i);
        let xh = (norm_x[base + i] - m.x) * m.y;
        norm_out[base + i] = m.y * (g - sums.x - xh * sums.y);
    }
}

// y = x · r ⊙ w with r = 1/sqrt(mean(x²) + eps) (T5LayerNorm, LlamaRMSNorm).
@compute @workgroup_size(256)
fn rmsnorm(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= norm_p.rows) {
        return;
    }
    let d = norm_p.d;
    let base = row * d;
    let r = norm_rms_inv(base, lid);
    for (var i = lid; i < d; i = i + NORM_WG) {
        norm_out[base + i] = norm_x[base + i] * r * norm_weight(i);
    }
}

// With g = dy ⊙ w: dx = r · (g - x · r² · mean(g ⊙ x)).
@compute @workgroup_size(256)
fn rmsnorm_backward(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= norm_p.rows) {
        return;
    }
    let d = norm_p.d;
    let base = row * d;
    let r = norm_rms_inv(base, lid);
    var acc = 0.0;
    for (var i = lid; i < d; i = i + NORM_WG) {
        acc = acc + norm_v[base + i] * norm_weight(i) * norm_x[base + i];
    }
    let c = norm_sum2(vec2<f32>(acc, 0.0), lid).x / f32(d);
    for (var i = lid; i < d; i = i + NORM_WG) {
        let g = norm_v[base + i] * norm_weight(i);
        norm_out[base + i] = r * (g - norm_x[base + i] * r * r * c);
    }
}

// ---- Fused residual add (AddNorm, NormBackwardAdd) ----

// norm_add_row writes sum = a + b over the row starting at base (each
// thread its own elements) and returns this thread's partial (Σs, Σs²).
fn norm_add_row(base: u32, lid: u32) -> vec2<f32> {
    var acc = vec2<f32>(0.0, 0.0);
    for (var i = lid; i < norm_p.d; i = i + NORM_WG) {
        let s = norm_x[base + i] + norm_r[base + i];
        norm_sum[base + i] = s;
        acc = acc + vec2<f32>(s, s * s);
    }
    return acc;
}

// sum = a + b; y = (sum - mean)·rstd ⊙ gamma + beta, the statistics summed
// as norm_moments sums them.
@compute @workgroup_size(256)
fn add_layernorm(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= norm_p.rows) {
        return;
    }
    let d = norm_p.d;
    let base = row * d;
    let mean = norm_sum2(vec2<f32>(norm_add_row(base, lid).x, 0.0), lid).x / f32(d);
    var q = 0.0;
    for (var i = lid; i < d; i = i + NORM_WG) {
        let c = norm_sum[base + i] - mean;
        q = q + c * c;
    }
    let variance = norm_sum2(vec2<f32>(q, 0.0), lid).x / f32(d);
    let rstd = 1.0 / sqrt(variance + norm_p.eps);
    let has_b = (norm_p.flags & NORM_HAS_B) != 0u;
    for (var i = lid; i < d; i = i + NORM_WG) {
        var y = (norm_sum[base + i] - mean) * rstd * norm_weight(i);
        if (has_b) {
            y = y + norm_v[i];
        }
        norm_out[base + i] = y;
    }
}

// sum = a + b; y = sum · r ⊙ w with r = 1/sqrt(mean(sum²) + eps).
@compute @workgroup_size(256)
fn add_rmsnorm(@builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= norm_p.rows) {
        return;
    }
    let d = norm_p.d;
    let base = row * d;
    let ms = norm_sum2(vec2<f32>(norm_add_row(base, lid).y, 0.0), lid).x / f32(d);
    let r = 1.0 / sqrt(ms + norm_p.eps);
    for (var i = lid; i < d; i = i + NORM_WG) {
        norm_out[base + i] = norm_sum[base + i] * r * norm_weight(i);
    }
}

// layernorm_backward's dx plus dres.
@compute @workgroup_size(256)
fn layernorm_backward_add(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= norm_p.rows) {
        return;
    }
    let d = norm_p.d;
    let base = row * d;
    let m = norm_moments(base, lid);
    var acc = vec2<f32>(0.0, 0.0);
    for (var i = lid; i < d; i = i + NORM_WG) {
        let g = norm_v[base + i] * norm_weight(i);
        let xh = (norm_x[base + i] - m.x) * m.y;
        acc = acc + vec2<f32>(g, g * xh);
    }
    let sums = norm_sum2(acc, lid) / f32(d);
    for (var i = lid; i < d; i = i + NORM_WG) {
        let g = norm_v[base + i] * norm_weight(i);
        let xh = (norm_x[base + i] - m.x) * m.y;
        norm_out[base + i] = m.y * (g - sums.x - xh * sums.y) + norm_r[base + i];
    }
}

// rmsnorm_backward's dx plus dres.
@compute @workgroup_size(256)
fn rmsnorm_backward_add(@builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= norm_p.rows) {
        return;
    }
    let d = norm_p.d;
    let base = row * d;
    let r = norm_rms_inv(base, lid);
    var acc = 0.0;
    for (var i = lid; i < d; i = i + NORM_WG) {
        acc = acc + norm_v[base + i] * norm_weight(i) * norm_x[base + i];
    }
    let c = norm_sum2(vec2<f32>(acc, 0.0), lid).x / f32(d);
    for (var i = lid; i < d; i = i + NORM_WG) {
        let g = norm_v[base + i] * norm_weight(i);
        norm_out[base + i] = r * (g - norm_x[base + i] * r * r * c) + norm_r[base + i];
    }
}
