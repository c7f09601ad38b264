// Softmax over the last axis of scores [B, H, Tq, Tk] and its backward.
// One workgroup of 256 threads owns one row of Tk; partial results meet in a
// shared-memory tree (fixed order, deterministic). The forward pass reads
// the row twice: once keeping a running (maximum, Σ exp(logit - maximum))
// pair per thread, merged across the workgroup in one reduction (the
// "online softmax"), then to write the probabilities. Masked entries never
// enter the maximum or the sum and get probability 0; a row whose every
// entry is masked becomes uniform (1/Tk), as adding float32's minimum does
// in transformers.
//
//   softmax           out, x, keymask, bias
//   softmax_backward  out (dx), y, dy
// An absent keymask or bias is replaced by a placeholder buffer and its
// flag bit is 0, so that it is never read.

struct SoftmaxParams {
    rows: u32,   // B·H·Tq
    tk: u32,
    tq: u32,
    h: u32,
    scale: f32,
    flags: u32,  // see SM_* below
    bias_rows: u32, // rows of a bias shared by the batch: H·Tq
    window: u32,    // > 0: sliding window (keys j ≤ q + Tk - Tq - window masked)
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

var<workgroup> sm_red: array<vec2<f32>, SM_WG>;

// sm_merge combines two partial (maximum, Σ exp(logit - maximum)) pairs. An
// empty part is (SM_LOWEST, 0): its exp factor underflows to 0.
fn sm_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// sm_push adds logit l to the running pair a with one exp.
fn sm_push(a: vec2<f32>, l: f32) -> vec2<f32> {
    if (l > a.x) {
        return vec2<f32>(l, a.y * exp(a.x - l) + 1.0);
    }
    return vec2<f32>(a.x, a.y + exp(l - a.x));
}

// sm_reduce returns the workgroup-wide merge of v, with sm_merge when online
// is true and as a plain sum of v.y otherwise (online is uniform). Every
// thread must call it; the last barrier leaves the shared array free.
fn sm_reduce(v: vec2<f32>, online: bool, lid: u32) -> vec2<f32> {
    sm_red[lid] = v;
    workgroupBarrier();
    for (var s = SM_WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            if (online) {
                sm_red[lid] = sm_merge(sm_red[lid], sm_red[lid + s]);
            } else {
                sm_red[lid] = sm_red[lid] + sm_red[lid + s];
            }
        }
        workgroupBarrier();
    }
    let r = sm_red[0];
    workgroupBarrier();
    return r;
}

// sm_kept reports whether key j of query q in batch b survives the masks.
// Causal: key j is masked for query q when j > q + (Tk - Tq). Window w > 0:
// key j is masked when j ≤ q + (Tk - Tq) - w.
fn sm_kept(b: u32, q: u32, j: u32) -> bool {
    let diag = i32(q) + i32(sm_p.tk) - i32(sm_p.tq);
    if ((sm_p.flags & SM_CAUSAL) != 0u) {
        if (i32(j) > diag) {
            return false;
        }
    }
    if (sm_p.window > 0u) {
        if (i32(j) <= diag - i32(sm_p.window)) {
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

    // The running pair covers the kept entries only. Its sum is at least 1
    // when any entry is kept, so 0 means the row is all masked.
    var acc = vec2<f32>(SM_LOWEST, 0.0);
    for (var j = lid; j < tk; j = j + SM_WG) {
        if (sm_kept(b, q, j)) {
            acc = sm_push(acc, sm_logit(row, j));
        }
    }
    let ms = sm_reduce(acc, true, lid);
    let uniform_p = 1.0 / f32(tk);
    for (var j = lid; j < tk; j = j + SM_WG) {
        var y = uniform_p;
        if (ms.y > 0.0) {
            y = 0.0;
            if (sm_kept(b, q, j)) {
                y = exp(sm_logit(row, j) - ms.x) / ms.y;
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
    let dot = sm_reduce(vec2<f32>(0.0, acc), false, lid).y;
    for (var j = lid; j < tk; j = j + SM_WG) {
        sm_out[base + j] = sm_p.scale * sm_x[base + j] * (sm_mask[base + j] - dot);
    }
}
