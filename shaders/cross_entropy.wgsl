// Mean cross-entropy over the rows of logits [N, V] with I32 labels [N], and
// its gradient, in three dispatches that run back to back without a readback:
//
//   ce_count   scratch, labels, flag                (1 workgroup)
//       scratch[N] = number of rows whose label is not ignore_index
//   ce_rows    scratch, labels, flag, logits, dlogits (one workgroup per row)
//       scratch[r] = logsumexp(row) - row[label], 0 for an ignored row;
//       dlogits row = (softmax(row) - onehot(label)) / count, 0 if ignored
//   ce_reduce  scratch, labels, flag, logits, dlogits, loss (1 workgroup)
//       loss[0] = Σ scratch[0..N) / count, NaN when count is 0
// Logits too large for one binding are split by rows over several buffers:
// ce_rows then runs once per part, on rows [row0, row0 + n) of the total,
// with logits and dlogits bound to the part.
// (ce_rows and ce_reduce bind buffers they do not use so that every entry
// point shares one numbering.)
//
// Every sum is a per-thread strided sum followed by a shared-memory tree, so
// the loss is deterministic. The log-sum-exp subtracts the row maximum,
// found in the same pass as the sum by merging running (maximum, Σ exp)
// pairs (the "online softmax"), so each row is read twice. A label outside
// [0, V) that is not ignore_index has no target logit: ce_count sets its bit
// in the backend's device error flag (reported by the next Sync or
// download), the row's loss is NaN (so the mean is NaN) and its gradient is
// the softmax.

struct CEParams {
    n: u32,
    v: u32,
    ignore_index: i32,
    nan_bits: u32, // 0x7fc00000: a NaN the compiler cannot fold away
    bit: u32,      // this op's bit in the device error flag
    row0: u32,     // ce_rows: the first row of logits and dlogits (a part of split logits)
    total: u32,    // ce_rows: N of the whole (n counts the part's rows)
    pad2: u32,
}

const CE_WG: u32 = 256u;

@group(0) @binding(0) var<uniform> ce_p: CEParams;
@group(0) @binding(1) var<storage, read_write> ce_scratch: array<f32>; // [N + 1]
@group(0) @binding(2) var<storage, read> ce_labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> ce_flag: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read> ce_logits: array<f32>;
@group(0) @binding(5) var<storage, read_write> ce_dlogits: array<f32>;
@group(0) @binding(6) var<storage, read_write> ce_loss: array<f32>;      // [1]

var<workgroup> ce_red: array<vec2<f32>, CE_WG>;

// ce_merge combines two partial (maximum, Σ exp(logit - maximum)) pairs.
fn ce_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// ce_push adds logit l to the running pair a with one exp.
fn ce_push(a: vec2<f32>, l: f32) -> vec2<f32> {
    if (l > a.x) {
        return vec2<f32>(l, a.y * exp(a.x - l) + 1.0);
    }
    return vec2<f32>(a.x, a.y + exp(l - a.x));
}

// ce_reduce_wg returns the workgroup-wide merge of v: with ce_merge when
// online is true, as a plain sum of v.y otherwise (online is uniform). Every
// thread must call it; the last barrier leaves the shared array free.
fn ce_reduce_wg(v: vec2<f32>, online: bool, lid: u32) -> vec2<f32> {
    ce_red[lid] = v;
    workgroupBarrier();
    for (var s = CE_WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            if (online) {
                ce_red[lid] = ce_merge(ce_red[lid], ce_red[lid + s]);
            } else {
                ce_red[lid] = ce_red[lid] + ce_red[lid + s];
            }
        }
        workgroupBarrier();
    }
    let r = ce_red[0];
    workgroupBarrier();
    return r;
}

// ce_sum returns the workgroup-wide sum of v; every thread must call it.
fn ce_sum(v: f32, lid: u32) -> f32 {
    return ce_reduce_wg(vec2<f32>(0.0, v), false, lid).y;
}

@compute @workgroup_size(256)
fn ce_count(@builtin(local_invocation_index) lid: u32) {
    var c = 0.0;
    for (var i = lid; i < ce_p.n; i = i + CE_WG) {
        let label = ce_labels[i];
        if (label != ce_p.ignore_index) {
            c = c + 1.0;
            if (label < 0 || u32(label) >= ce_p.v) {
                atomicOr(&ce_flag[0], ce_p.bit);
            }
        }
    }
    let total = ce_sum(c, lid);
    if (lid == 0u) {
        ce_scratch[ce_p.n] = total;
    }
}

@compute @workgroup_size(256)
fn ce_rows(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= ce_p.n) {
        return;
    }
    let grow = ce_p.row0 + row;
    let v = ce_p.v;
    let base = row * v;
    // An ignored row runs the same reductions as any other (the branch comes
    // only at the writes), so that every thread reaches every barrier.
    let label = ce_labels[grow];
    let counted = label != ce_p.ignore_index;
    var acc = vec2<f32>(-3.40282347e+38, 0.0);
    for (var j = lid; j < v; j = j + CE_WG) {
        acc = ce_push(acc, ce_logits[base + j]);
    }
    let ms = ce_reduce_wg(acc, true, lid);
    let m = ms.x;
    let s = ms.y;
    let inv_count = 1.0 / ce_scratch[ce_p.total];
    let has_target = label >= 0 && u32(label) < v;
    for (var j = lid; j < v; j = j + CE_WG) {
        var g = 0.0;
        if (counted) {
            g = exp(ce_logits[base + j] - m) / s;
            if (has_target && u32(label) == j) {
                g = g - 1.0;
            }
            g = g * inv_count;
        }
        ce_dlogits[base + j] = g;
    }
    if (lid == 0u) {
        var loss = 0.0;
        if (counted) {
            loss = bitcast<f32>(ce_p.nan_bits);
            if (has_target) {
                loss = log(s) - (ce_logits[base + u32(label)] - m);
            }
        }
        ce_scratch[grow] = loss;
    }
}

@compute @workgroup_size(256)
fn ce_reduce(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < ce_p.n; i = i + CE_WG) {
        acc = acc + ce_scratch[i];
    }
    let total = ce_sum(acc, lid);
    if (lid == 0u) {
        let count = ce_scratch[ce_p.n];
        var loss = bitcast<f32>(ce_p.nan_bits);
        if (count > 0.0) {
            loss = total / count;
        }
        ce_loss[0] = loss;
    }
}
