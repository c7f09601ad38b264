// Row gather (embedding lookup) and its backward, one thread per output
// element or column block (launched with groups1D; linear_index of
// common.wgsl recovers the index).
//
//   gather            out F32 [N, D], table [V, D] as raw u32 words, ids I32 [N], flag
//   gather4           gather of an F32 table with D % 4 == 0, four elements a
//                     thread through vec4 views (n and d counted in vec4s)
//   scatter_add_rows  out F32 [rows, D], src F32 [N, D] as raw u32 words, ids I32 [N], flag
//   gather_part       gather from one part of a table split over several
//                     buffers: the part holds rows [lo, lo + v) of a table
//                     of nids rows; only outputs whose id falls in the part
//                     are written, so one dispatch per part fills the result.
//                     Ids outside [0, nids) are zeroed and flagged by the
//                     part with lo = 0.
//
// The table is bound as u32 words whatever its dtype, so one entry point
// serves F32 (one word per element) and F16/BF16 (two elements per word, low
// half first), widened by load_w of common.wgsl. An id outside [0, V) never
// reads outside the table: its output row is written as zeros and the
// kernel sets its bit in the backend's device error flag, which the next
// Sync or download reports. Likewise scatter_add_rows: an id outside
// [0, rows) adds nowhere and sets the flag.
//
// WGSL has no float atomics, so scatter_add_rows gives every output element
// exactly one owner: thread (c, blk) owns column c of the rows
// [blk·rpb, blk·rpb + rpb). It zeroes them, then walks all N ids in ascending
// order and adds src[i, c] when ids[i] falls in its block: no two threads
// write one element, and the order of the additions is fixed.

struct GatherParams {
    n: u32,     // gather: N·D outputs; scatter: D·blocks threads
    d: u32,
    v: u32,     // gather: table rows V; scatter: output rows
    dtype: u32, // gather: DT_F32, DT_F16 or DT_BF16 (common.wgsl)
    nids: u32,  // scatter: N
    rpb: u32,   // scatter: output rows per block
    bit: u32,   // this op's bit in the device error flag
    lo: u32,    // gather_part: first table row the part holds
}

const GATHER_WG: u32 = 256u;

@group(0) @binding(0) var<uniform> ga_p: GatherParams;
@group(0) @binding(1) var<storage, read_write> ga_out: array<f32>;
@group(0) @binding(2) var<storage, read> ga_src: array<u32>;
@group(0) @binding(3) var<storage, read> ga_ids: array<i32>;
@group(0) @binding(4) var<storage, read_write> ga_flag: array<atomic<u32>>;
@group(0) @binding(1) var<storage, read_write> ga_out4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> ga_src4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_index(gid, nwg, GATHER_WG);
    if (e >= ga_p.n) {
        return;
    }
    let d = ga_p.d;
    let id = ga_ids[e / d];
    var y = 0.0;
    if (id >= 0 && u32(id) < ga_p.v) {
        let idx = u32(id) * d + e % d;
        y = load_w(ga_src[word_index(ga_p.dtype, idx)], ga_p.dtype, idx);
    } else if (e % d == 0u) {
        atomicOr(&ga_flag[0], ga_p.bit);
    }
    ga_out[e] = y;
}

@compute @workgroup_size(256)
fn gather4(@builtin(global_invocation_id) gid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_index(gid, nwg, GATHER_WG);
    if (e >= ga_p.n) {
        return;
    }
    let d = ga_p.d;
    let id = ga_ids[e / d];
    var y = vec4<f32>(0.0);
    if (id >= 0 && u32(id) < ga_p.v) {
        y = ga_src4[u32(id) * d + e % d];
    } else if (e % d == 0u) {
        atomicOr(&ga_flag[0], ga_p.bit);
    }
    ga_out4[e] = y;
}

@compute @workgroup_size(256)
fn scatter_add_rows(@builtin(global_invocation_id) gid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, GATHER_WG);
    if (t >= ga_p.n) {
        return;
    }
    let d = ga_p.d;
    let c = t % d;
    let rpb = ga_p.rpb;
    let lo = (t / d) * rpb;
    let hi = min(lo + rpb, ga_p.v);
    for (var r = lo; r < hi; r = r + 1u) {
        ga_out[r * d + c] = 0.0;
    }
    for (var i = 0u; i < ga_p.nids; i = i + 1u) {
        let id = ga_ids[i];
        if (t == 0u && (id < 0 || u32(id) >= ga_p.v)) {
            atomicOr(&ga_flag[0], ga_p.bit);
        }
        if (id >= i32(lo) && id < i32(hi)) {
            let o = u32(id) * d + c;
            ga_out[o] = ga_out[o] + bitcast<f32>(ga_src[i * d + c]);
        }
    }
}

@compute @workgroup_size(256)
fn gather_part(@builtin(global_invocation_id) gid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_index(gid, nwg, GATHER_WG);
    if (e >= ga_p.n) {
        return;
    }
    let d = ga_p.d;
    let id = ga_ids[e / d];
    if (id < 0 || u32(id) >= ga_p.nids) {
        if (ga_p.lo == 0u) {
            ga_out[e] = 0.0;
            if (e % d == 0u) {
                atomicOr(&ga_flag[0], ga_p.bit);
            }
        }
        return;
    }
    let r = u32(id);
    if (r < ga_p.lo || r - ga_p.lo >= ga_p.v) {
        return;
    }
    let idx = (r - ga_p.lo) * d + e % d;
    ga_out[e] = load_w(ga_src[word_index(ga_p.dtype, idx)], ga_p.dtype, idx);
}
