// moe.wgsl: mixture-of-experts routing on the device.
//
//   top_k          out I32 [N, k], x F32 [N, E]: one thread per row
//   expert_linear  out F32 [N·k, dout], x F32 [N or N·k, din], w one expert's
//                  weight [R, C] as raw u32 words (F32, F16, BF16, Q8_0 or
//                  NF4), ids I32 [N·k], flag: one thread per output element
//                  (the simple kernel: few slots, and the reference variant)
//   expert_dot     the same bindings: a workgroup of 64 per output, forward
//                  only (decode: few slots, long rows read contiguously)
//   expert_route   out, x, w, ids, flag, route (binding 6): one workgroup
//                  lists each expert's slots in the route scratch buffer
//   expert_tiled   out, x, w, route (binding 4, read): 64×64 output tiles
//                  of (an expert's listed slots × output features)
//   expert_large   the same bindings: 128×128 tiles, 8×8 outputs a thread
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
    slots: u32,   // N·k
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

// ---- expert_dot: a workgroup per output, for decode ----
//
// expert_dot is the forward for few slots (token-by-token generation):
// like matmul.wgsl's matmul_dot, the 64 threads of a workgroup stride over
// the input features of one output and add their partial sums in
// workgroup memory, so a weight row is read contiguously by neighbouring
// threads instead of one strided element per thread. Workgroup o (folded
// over x and y) computes output o of the part's rows for slot o / rows;
// workgroups whose slot belongs to another expert return after one read of
// ids. The dispatches of expert 0 (every part) zero the part's columns of
// a slot whose id is out of range and set the error bit.

const EX_DOT_WG: u32 = 64u;
var<workgroup> ex_dot_part: array<f32, EX_DOT_WG>;

@compute @workgroup_size(64)
fn expert_dot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let o = wid.x + wid.y * nwg.x;
    let total = ex_p.slots * ex_p.rows;
    // o and everything read at an index derived from it (ids is read-only
    // storage) are uniform across the workgroup, so the barriers below stay
    // in uniform control flow.
    let oc = min(o, max(total, 1u) - 1u);
    let s = oc / max(ex_p.rows, 1u);
    let cl = oc % max(ex_p.rows, 1u);
    let id = ex_ids[s];
    let bad = id < 0 || u32(id) >= ex_p.experts;
    let t = s * ex_p.dout + ex_p.lo + cl;
    if (o < total && bad && ex_p.first == 1u && lid == 0u) {
        ex_out[t] = 0.0;
        atomicOr(&ex_flag[0], ex_p.bit);
    }
    let live = o < total && !bad && u32(id) == ex_p.e;
    var acc = 0.0;
    if (live) {
        let row = select(s, s / ex_p.k, ex_p.bcast == 1u);
        let xb = row * ex_p.din;
        let wb = cl * ex_p.cols;
        for (var i = lid; i < ex_p.din; i = i + EX_DOT_WG) {
            acc = acc + ex_x[xb + i] * ex_weight(wb + i);
        }
    }
    ex_dot_part[lid] = acc;
    workgroupBarrier();
    for (var h = EX_DOT_WG / 2u; h > 0u; h = h >> 1u) {
        if (lid < h) {
            ex_dot_part[lid] = ex_dot_part[lid] + ex_dot_part[lid + h];
        }
        workgroupBarrier();
    }
    if (live && lid == 0u) {
        ex_out[t] = ex_dot_part[0];
    }
}

// ---- expert_route + expert_tiled: many slots (prefill, training) ----
//
// expert_route compacts the routing on the device, in one workgroup: it
// counts each expert's slots, takes the exclusive prefix sum of the counts
// and lists every slot under its expert. The route buffer (u32) holds
//
//   [0, E)          count of slots per expert
//   [E, 2E)         offset of the expert's list in the lists
//   [2E, 3E)        fill cursors (scratch)
//   [3E, 3E + N·k)  the lists: the slots of expert 0, then of expert 1, ...
//
// A slot's place within its expert's list depends on the order of the
// atomics, which changes no result: each output is the same dot product
// wherever its row lands in a tile. A slot whose id is out of range gets
// its output row zeroed and the error bit, and is listed under no expert.

@group(0) @binding(6) var<storage, read_write> ex_route_rw: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read> ex_route: array<u32>;

const EX_ROUTE_WG: u32 = 256u;

@compute @workgroup_size(256)
fn expert_route(@builtin(local_invocation_index) lid: u32) {
    let experts = ex_p.experts;
    for (var e = lid; e < experts; e = e + EX_ROUTE_WG) {
        atomicStore(&ex_route_rw[e], 0u);
    }
    storageBarrier();
    for (var s = lid; s < ex_p.slots; s = s + EX_ROUTE_WG) {
        let id = ex_ids[s];
        if (id < 0 || u32(id) >= experts) {
            atomicOr(&ex_flag[0], ex_p.bit);
            for (var c = 0u; c < ex_p.dout; c = c + 1u) {
                ex_out[s * ex_p.dout + c] = 0.0;
            }
        } else {
            atomicAdd(&ex_route_rw[u32(id)], 1u);
        }
    }
    storageBarrier();
    if (lid == 0u) {
        var acc = 0u;
        for (var e = 0u; e < experts; e = e + 1u) {
            atomicStore(&ex_route_rw[experts + e], acc);
            atomicStore(&ex_route_rw[2u * experts + e], acc);
            acc = acc + atomicLoad(&ex_route_rw[e]);
        }
    }
    storageBarrier();
    for (var s = lid; s < ex_p.slots; s = s + EX_ROUTE_WG) {
        let id = ex_ids[s];
        if (id >= 0 && u32(id) < experts) {
            let pos = atomicAdd(&ex_route_rw[2u * experts + u32(id)], 1u);
            atomicStore(&ex_route_rw[3u * experts + pos], s);
        }
    }
}

// expert_tiled is matmul.wgsl's 64×64-tile kernel over one expert's listed
// slots: workgroup (x, y) computes output features [64x, 64x + 64) of the
// part's range for the slots at positions [64y, 64y + 64) of expert e's
// list. The host launches the worst case, every slot on this expert, as it
// never reads the counts; workgroups past the expert's count return at
// once (the count is read-only storage at a uniform index, so the early
// return keeps the barriers in uniform control flow). Each thread computes
// 4×4 outputs spaced 16 apart, the K dimension walked 16 at a time through
// workgroup memory; the x rows are gathered through the list as the a
// tile is loaded and the outputs scattered back to their slots' rows.
//
// Forward (y = x·Wᵀ): the part holds output features [lo, lo + rows) and K
// is C, the weight read along its rows (16 neighbouring threads read 16
// neighbouring elements). Backward (y = x·W): the part holds K range
// [lo, lo + rows) of x's features, the outputs are the C columns, read by
// 64 neighbouring threads along a row; a later part adds to the output.

const EX_TILE: u32 = 64u;
const EX_TK: u32 = 16u;
const EX_NONE: u32 = 0xffffffffu;
// EX_TS is a tile's k-row stride in workgroup memory: 64 padded by one, so
// that the a tile's stores (16 neighbouring threads, 16 k rows, one slot)
// fall in different banks instead of one.
const EX_TS: u32 = 65u;

var<workgroup> ex_tile_a: array<f32, 1040>; // [EX_TK][EX_TS]
var<workgroup> ex_tile_b: array<f32, 1040>; // [EX_TK][EX_TS]

// ex_x_base is the index in x of the first feature of this part's K range
// for list position p of the tile (EX_NONE past the count).
fn ex_x_base(list: u32, p: u32, live: u32, klo: u32) -> u32 {
    if (p >= live) {
        return EX_NONE;
    }
    let s = ex_route[list + p];
    let row = select(s, s / ex_p.k, ex_p.bcast == 1u);
    return row * ex_p.din + klo;
}

// ex_load_a loads x element k0 + kk of the row at base into tile slot
// (kk, m), zero past the row or the list.
fn ex_load_a(base: u32, kk: u32, m: u32, k0: u32, kdim: u32) {
    var v = 0.0;
    if (base != EX_NONE && k0 + kk < kdim) {
        v = ex_x[base + k0 + kk];
    }
    ex_tile_a[kk * EX_TS + m] = v;
}

// ex_load_b loads the weight element of local K index k and local output
// column n into tile slot (kb, nn), zero outside the part.
fn ex_load_b(kb: u32, nn: u32, k: u32, n: u32, kdim: u32, ncols: u32, back: bool) {
    var v = 0.0;
    if (k < kdim && n < ncols) {
        v = ex_weight(select(n * ex_p.cols + k, k * ex_p.cols + n, back));
    }
    ex_tile_b[kb * EX_TS + nn] = v;
}

// ex_store_row writes the outputs of tile row m (columns c, c+16, c+32,
// c+48 of the part's local range) to its slot's row.
fn ex_store_row(list: u32, m: u32, live: u32, c: u32, ncols: u32, clo: u32, v: vec4<f32>) {
    if (m >= live) {
        return;
    }
    let base = ex_route[list + m] * ex_p.dout + clo;
    ex_store_one(base, c, ncols, v.x);
    ex_store_one(base, c + 16u, ncols, v.y);
    ex_store_one(base, c + 32u, ncols, v.z);
    ex_store_one(base, c + 48u, ncols, v.w);
}

fn ex_store_one(base: u32, c: u32, ncols: u32, v: f32) {
    if (c >= ncols) {
        return;
    }
    if (ex_p.add == 1u) {
        ex_out[base + c] = ex_out[base + c] + v;
    } else {
        ex_out[base + c] = v;
    }
}

@compute @workgroup_size(16, 16, 1)
fn expert_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let experts = ex_p.experts;
    let count = ex_route[ex_p.e];
    let p0 = wid.y * EX_TILE;
    if (p0 >= count) {
        return;
    }
    let live = min(count - p0, EX_TILE);
    let list = 3u * experts + ex_route[experts + ex_p.e] + p0;
    let back = ex_p.backward == 1u;
    // The part's K range and output columns, local to the part.
    var kdim = ex_p.din;
    var klo = 0u;
    var ncols = ex_p.rows;
    var clo = ex_p.lo;
    if (back) {
        kdim = ex_p.rows;
        klo = ex_p.lo;
        ncols = ex_p.cols;
        clo = 0u;
    }
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let col0 = wid.x * EX_TILE;

    // This thread loads a at k column lid % 16 of tile rows lid / 16 + 16j
    // (x rows are contiguous along k), whose x row bases are looked up once.
    let ka = lid % EX_TK;
    let ma = lid / EX_TK;
    let xb0 = ex_x_base(list, ma, live, klo);
    let xb1 = ex_x_base(list, ma + 16u, live, klo);
    let xb2 = ex_x_base(list, ma + 32u, live, klo);
    let xb3 = ex_x_base(list, ma + 48u, live, klo);
    // and b with k fastest in the forward (weight rows run along K), with
    // n fastest in the backward (weight rows run along the outputs).
    var kb = lid % EX_TK;
    var nb = lid / EX_TK;
    var kstep = 0u;
    var nstep = 16u;
    if (back) {
        kb = lid / EX_TILE;
        nb = lid % EX_TILE;
        kstep = 4u;
        nstep = 0u;
    }

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < kdim; k0 = k0 + EX_TK) {
        ex_load_a(xb0, ka, ma, k0, kdim);
        ex_load_a(xb1, ka, ma + 16u, k0, kdim);
        ex_load_a(xb2, ka, ma + 32u, k0, kdim);
        ex_load_a(xb3, ka, ma + 48u, k0, kdim);
        for (var j = 0u; j < 4u; j = j + 1u) {
            let kk = kb + j * kstep;
            let nn = nb + j * nstep;
            ex_load_b(kk, nn, k0 + kk, col0 + nn, kdim, ncols, back);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < EX_TK; kk = kk + 1u) {
            let ia = kk * EX_TS + ty;
            let ib = kk * EX_TS + tx;
            // a·b + c, not fma(): see matmul.wgsl's matmul.
            let br = vec4<f32>(ex_tile_b[ib], ex_tile_b[ib + 16u], ex_tile_b[ib + 32u], ex_tile_b[ib + 48u]);
            acc0 = acc0 + ex_tile_a[ia] * br;
            acc1 = acc1 + ex_tile_a[ia + 16u] * br;
            acc2 = acc2 + ex_tile_a[ia + 32u] * br;
            acc3 = acc3 + ex_tile_a[ia + 48u] * br;
        }
        workgroupBarrier();
    }
    let c = col0 + tx;
    ex_store_row(list, ty, live, c, ncols, clo, acc0);
    ex_store_row(list, ty + 16u, live, c, ncols, clo, acc1);
    ex_store_row(list, ty + 32u, live, c, ncols, clo, acc2);
    ex_store_row(list, ty + 48u, live, c, ncols, clo, acc3);
}

// ---- expert_large: 128×128 tiles for experts with many slots ----
//
// expert_large is expert_tiled with matmul.wgsl's matmul_large tiles: a
// workgroup of 16×16 threads computes 128 listed slots × 128 output
// features, each thread 8×8 outputs in registers (slot rows ty·4 + {0..3}
// and 64 + ty·4 + {0..3}, columns tx·4 + {0..3} and 64 + tx·4 + {0..3}).
// The a tile (gathered x rows) is kept transposed ([k][slot]) and the b
// tile as [k][n], both as vec4, XOR-swizzled by k; the next k-step is
// fetched into registers while this one is multiplied. The grid, the early
// return past the expert's count, the parts and the backward's adding are
// expert_tiled's.

const EX_LTILE: u32 = 128u;
const EX_LQ: u32 = 32u; // vec4 slots per k row of a tile

var<workgroup> ex_ltile_a: array<vec4<f32>, 512>; // [EX_TK][EX_LQ], swizzled
var<workgroup> ex_ltile_b: array<vec4<f32>, 512>; // [EX_TK][EX_LQ], swizzled

fn ex_lslot(kk: u32, q: u32) -> u32 {
    return kk * EX_LQ + (q ^ kk);
}

// ex_xa is x element k of the row at base, zero past the row or the list.
fn ex_xa(base: u32, k: u32, kdim: u32) -> f32 {
    if (base != EX_NONE && k < kdim) {
        return ex_x[base + k];
    }
    return 0.0;
}

// ex_wb is the weight element of local K index k and local output column
// n, zero outside the part.
fn ex_wb(k: u32, n: u32, kdim: u32, ncols: u32, back: bool) -> f32 {
    if (k < kdim && n < ncols) {
        return ex_weight(select(n * ex_p.cols + k, k * ex_p.cols + n, back));
    }
    return 0.0;
}

// ex_b4 fetches output columns n..n+3 at K index k.
fn ex_b4(k: u32, n: u32, kdim: u32, ncols: u32, back: bool) -> vec4<f32> {
    return vec4<f32>(ex_wb(k, n, kdim, ncols, back), ex_wb(k, n + 1u, kdim, ncols, back),
                     ex_wb(k, n + 2u, kdim, ncols, back), ex_wb(k, n + 3u, kdim, ncols, back));
}

// ex_store8 writes tile row m's outputs at local columns c..c+3 (lo) and
// c+64..c+67 (hi) to its slot's row.
fn ex_store8(list: u32, m: u32, live: u32, c: u32, ncols: u32, clo: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (m >= live) {
        return;
    }
    let base = ex_route[list + m] * ex_p.dout + clo;
    ex_store_one(base, c, ncols, lo.x);
    ex_store_one(base, c + 1u, ncols, lo.y);
    ex_store_one(base, c + 2u, ncols, lo.z);
    ex_store_one(base, c + 3u, ncols, lo.w);
    ex_store_one(base, c + 64u, ncols, hi.x);
    ex_store_one(base, c + 65u, ncols, hi.y);
    ex_store_one(base, c + 66u, ncols, hi.z);
    ex_store_one(base, c + 67u, ncols, hi.w);
}

@compute @workgroup_size(16, 16, 1)
fn expert_large(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let experts = ex_p.experts;
    let count = ex_route[ex_p.e];
    let p0 = wid.y * EX_LTILE;
    if (p0 >= count) {
        return;
    }
    let live = min(count - p0, EX_LTILE);
    let list = 3u * experts + ex_route[experts + ex_p.e] + p0;
    let back = ex_p.backward == 1u;
    var kdim = ex_p.din;
    var klo = 0u;
    var ncols = ex_p.rows;
    var clo = ex_p.lo;
    if (back) {
        kdim = ex_p.rows;
        klo = ex_p.lo;
        ncols = ex_p.cols;
        clo = 0u;
    }
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let col0 = wid.x * EX_LTILE;

    // a: x rows run along k, so neighbouring threads take neighbouring k;
    // this thread fetches k column ka of tile rows 4qa..4qa+3 and
    // 64 + 4qa..64 + 4qa+3, whose x row bases are looked up once.
    let ka = lid % EX_TK;
    let qa = lid / EX_TK;
    let r0 = ex_x_base(list, qa * 4u, live, klo);
    let r1 = ex_x_base(list, qa * 4u + 1u, live, klo);
    let r2 = ex_x_base(list, qa * 4u + 2u, live, klo);
    let r3 = ex_x_base(list, qa * 4u + 3u, live, klo);
    let r4 = ex_x_base(list, 64u + qa * 4u, live, klo);
    let r5 = ex_x_base(list, 64u + qa * 4u + 1u, live, klo);
    let r6 = ex_x_base(list, 64u + qa * 4u + 2u, live, klo);
    let r7 = ex_x_base(list, 64u + qa * 4u + 3u, live, klo);
    // b: (k row, vec4 index) pairs (kb0, qb0), (kb1, qb1); k fastest in the
    // forward (weight rows run along K), n fastest in the backward.
    var kb0 = lid % EX_TK;
    var qb0 = lid / EX_TK;
    var kb1 = kb0;
    var qb1 = qb0 + 16u;
    if (back) {
        kb0 = lid / EX_LQ;
        qb0 = lid % EX_LQ;
        kb1 = kb0 + 8u;
        qb1 = qb0;
    }

    var c00 = vec4<f32>(0.0);
    var c01 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0);
    var c11 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0);
    var c21 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0);
    var c31 = vec4<f32>(0.0);
    var c40 = vec4<f32>(0.0);
    var c41 = vec4<f32>(0.0);
    var c50 = vec4<f32>(0.0);
    var c51 = vec4<f32>(0.0);
    var c60 = vec4<f32>(0.0);
    var c61 = vec4<f32>(0.0);
    var c70 = vec4<f32>(0.0);
    var c71 = vec4<f32>(0.0);

    var pa0 = vec4<f32>(ex_xa(r0, ka, kdim), ex_xa(r1, ka, kdim), ex_xa(r2, ka, kdim), ex_xa(r3, ka, kdim));
    var pa1 = vec4<f32>(ex_xa(r4, ka, kdim), ex_xa(r5, ka, kdim), ex_xa(r6, ka, kdim), ex_xa(r7, ka, kdim));
    var pb0 = ex_b4(kb0, col0 + qb0 * 4u, kdim, ncols, back);
    var pb1 = ex_b4(kb1, col0 + qb1 * 4u, kdim, ncols, back);
    for (var k0 = 0u; k0 < kdim; k0 = k0 + EX_TK) {
        ex_ltile_a[ex_lslot(ka, qa)] = pa0;
        ex_ltile_a[ex_lslot(ka, qa + 16u)] = pa1;
        ex_ltile_b[ex_lslot(kb0, qb0)] = pb0;
        ex_ltile_b[ex_lslot(kb1, qb1)] = pb1;
        workgroupBarrier();
        // Fetch the next k-step while this one is multiplied.
        let k1 = k0 + EX_TK;
        if (k1 < kdim) {
            let k = k1 + ka;
            pa0 = vec4<f32>(ex_xa(r0, k, kdim), ex_xa(r1, k, kdim), ex_xa(r2, k, kdim), ex_xa(r3, k, kdim));
            pa1 = vec4<f32>(ex_xa(r4, k, kdim), ex_xa(r5, k, kdim), ex_xa(r6, k, kdim), ex_xa(r7, k, kdim));
            pb0 = ex_b4(k1 + kb0, col0 + qb0 * 4u, kdim, ncols, back);
            pb1 = ex_b4(k1 + kb1, col0 + qb1 * 4u, kdim, ncols, back);
        }
        for (var kk = 0u; kk < EX_TK; kk = kk + 1u) {
            let a0 = ex_ltile_a[ex_lslot(kk, ty)];
            let a1 = ex_ltile_a[ex_lslot(kk, ty + 16u)];
            let b0 = ex_ltile_b[ex_lslot(kk, tx)];
            let b1 = ex_ltile_b[ex_lslot(kk, tx + 16u)];
            // a·b + c, not fma(): see matmul.wgsl's matmul.
            c00 = c00 + a0.x * b0;
            c01 = c01 + a0.x * b1;
            c10 = c10 + a0.y * b0;
            c11 = c11 + a0.y * b1;
            c20 = c20 + a0.z * b0;
            c21 = c21 + a0.z * b1;
            c30 = c30 + a0.w * b0;
            c31 = c31 + a0.w * b1;
            c40 = c40 + a1.x * b0;
            c41 = c41 + a1.x * b1;
            c50 = c50 + a1.y * b0;
            c51 = c51 + a1.y * b1;
            c60 = c60 + a1.z * b0;
            c61 = c61 + a1.z * b1;
            c70 = c70 + a1.w * b0;
            c71 = c71 + a1.w * b1;
        }
        workgroupBarrier();
    }

    let col = col0 + tx * 4u;
    ex_store8(list, ty * 4u, live, col, ncols, clo, c00, c01);
    ex_store8(list, ty * 4u + 1u, live, col, ncols, clo, c10, c11);
    ex_store8(list, ty * 4u + 2u, live, col, ncols, clo, c20, c21);
    ex_store8(list, ty * 4u + 3u, live, col, ncols, clo, c30, c31);
    ex_store8(list, 64u + ty * 4u, live, col, ncols, clo, c40, c41);
    ex_store8(list, 64u + ty * 4u + 1u, live, col, ncols, clo, c50, c51);
    ex_store8(list, 64u + ty * 4u + 2u, live, col, ncols, clo, c60, c61);
    ex_store8(list, 64u + ty * 4u + 3u, live, col, ncols, clo, c70, c71);
}
