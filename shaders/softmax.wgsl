// Softmax over the last axis of scores [B, H, Tq, Tk] and its backward.
// One workgroup of 256 threads owns one row of Tk; partial results meet in a
// shared-memory tree (fixed order, deterministic). The forward pass makes
// three passes over the row: the maximum of the kept logits, the sum of
// exp(logit - max), then the probabilities. Masked entries never enter the
// maximum or the sum and get probability 0; a row whose every entry is masked
// becomes uniform (1/Tk), as adding float32's minimum does in transformers.
//
//   softmax           out, x, keymask, bias
//   softmax_backward  out (dx), y, dy
// An absent keymask or bias is replaced by another read-only buffer and its
// flag bit is 0, so that it is never read.

struct SoftmaxParams {
    rows: u32,   // B·H·Tq
    tk: u32,
    tq: u32,
    h: u32,
    scale: f32,
    flags: u32,  // see SM_* below
    bias_rows: u32, // rows of a bias shared by the batch: H·Tq
    pad: u32,
}

const SM_WG: u32 = 256u;
const SM_CAUSAL: u32 = 1u;
const SM_KEYMASK: u32 = 2u;
const SM_BIAS: u32 = 4u;
const SM_BIAS_PER_BATCH: u32 = 8u;
const SM_LOWEST: f32 = -3.40282347e+38;

@group(0) @binding(0) var<uniform> sm_p: SoftmaxParams;
@group(0) @binding(1) var<storage, read_write> sm_out: array<f32>;
@group(0) @binding(2) var<storage, read> sm_x: array<f32>;   // scores, or y backward
@group(0) @binding(3) var<storage, read> sm_mask: array<f32>; // keymask, or dy backward
@group(0) @binding(4) var<storage, read> sm_bias: array<f32>;

var<workgroup> sm_red: array<f32, SM_WG>;

// sm_sum returns the workgroup-wide sum of v; every thread must call it.
fn sm_sum(v: f32, lid: u32) -> f32 {
    sm_red[lid] = v;
    workgroupBarrier();
    for (var s = SM_WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sm_red[lid] = sm_red[lid] + sm_red[lid + s];
        }
        workgroupBarrier();
    }
    let r = sm_red[0];
    workgroupBarrier();
    return r;
}

// sm_max returns the workgroup-wide maximum of v; every thread must call it.
fn sm_max(v: f32, lid: u32) -> f32 {
    sm_red[lid] = v;
    workgroupBarrier();
    for (var s = SM_WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sm_red[lid] = max(sm_red[lid], sm_red[lid + s]);
        }
        workgroupBarrier();
    }
    let r = sm_red[0];
    workgroupBarrier();
    return r;
}

// sm_kept reports whether key j of query q in batch b survives the masks.
// Causal: key j is masked for query q when j > q + (Tk - Tq).
fn sm_kept(b: u32, q: u32, j: u32) -> bool {
    if ((sm_p.flags & SM_CAUSAL) != 0u) {
        if (i32(j) > i32(q) + i32(sm_p.tk) - i32(sm_p.tq)) {
            return false;
        }
    }
    if ((sm_p.flags & SM_KEYMASK) != 0u) {
        if (sm_mask[b * sm_p.tk + j] == 0.0) {
            return false;
        }
    }
    return true;
}

// sm_logit returns x·scale + bias for entry j of the row.
fn sm_logit(row: u32, j: u32) -> f32 {
    var v = sm_x[row * sm_p.tk + j] * sm_p.scale;
    if ((sm_p.flags & SM_BIAS) != 0u) {
        var brow = row;
        if ((sm_p.flags & SM_BIAS_PER_BATCH) == 0u) {
            brow = row % sm_p.bias_rows;
        }
        v = v + sm_bias[brow * sm_p.tk + j];
    }
    return v;
}

@compute @workgroup_size(256)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= sm_p.rows) {
        return;
    }
    let tk = sm_p.tk;
    let q = row % sm_p.tq;
    let b = row / (sm_p.tq * sm_p.h);
    let base = row * tk;

    var m = SM_LOWEST;
    var kept = 0.0;
    for (var j = lid; j < tk; j = j + SM_WG) {
        if (sm_kept(b, q, j)) {
            m = max(m, sm_logit(row, j));
            kept = kept + 1.0;
        }
    }
    m = sm_max(m, lid);
    kept = sm_sum(kept, lid);

    var s = 0.0;
    for (var j = lid; j < tk; j = j + SM_WG) {
        if (sm_kept(b, q, j)) {
            s = s + exp(sm_logit(row, j) - m);
        }
    }
    // Every thread reaches every barrier: the all-masked case is decided
    // only when writing.
    s = sm_sum(s, lid);
    let uniform_p = 1.0 / f32(tk);
    for (var j = lid; j < tk; j = j + SM_WG) {
        var y = uniform_p;
        if (kept > 0.0) {
            y = 0.0;
            if (sm_kept(b, q, j)) {
                y = exp(sm_logit(row, j) - m) / s;
            }
        }
        sm_out[base + j] = y;
    }
}

// dx = scale · y ⊙ (dy - Σ dy ⊙ y); masked entries have y = 0 and get 0.
@compute @workgroup_size(256)
fn softmax_backward(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= sm_p.rows) {
        return;
    }
    let tk = sm_p.tk;
    let base = row * tk;
    var acc = 0.0;
    for (var j = lid; j < tk; j = j + SM_WG) {
        acc = acc + sm_x[base + j] * sm_mask[base + j];
    }
    let dot = sm_sum(acc, lid);
    for (var j = lid; j < tk; j = j + SM_WG) {
        sm_out[base + j] = sm_p.scale * sm_x[base + j] * (sm_mask[base + j] - dot);
    }
}
