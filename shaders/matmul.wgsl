// matmul.wgsl: tiled matrix products, batched, with either operand read
// transposed through strides and b in F32, F16 or BF16, or b a Q8_0 or NF4
// weight dequantised as it is loaded (load_bq). Linear uses the same kernel
// with its (IA)³ epilogue switched on by flags.
//
// Each workgroup of 16×16 threads computes a 64×64 tile of the output, each
// thread 4×4 outputs spaced 16 apart; the K dimension is walked 16 at a time
// through workgroup memory. Every load is bounds-checked, so any M, N, K
// (including 1) works. Workgroup (x, y, z) = (column tile, row tile, batch).
//
//   out [batch, M, N] (binding 1), a (2), b raw words (3), bias (4),
//   out_scale (5), in_scale (6), scale_index I32 (7)
//
// element (m, k) of a batch z is a[z·sa_b + m·sa_m + k·sa_k]; element (k, n)
// of b is b[z·sb_b + k·sb_k + n·sb_n]. Absent optional inputs are bound to a
// placeholder buffer and their flag is off.

const MM_BIAS: u32 = 1u;
const MM_OUT_SCALE: u32 = 2u;
const MM_IN_SCALE: u32 = 4u;
const MM_OUT_INDEXED: u32 = 8u; // out_scale is [A, N], row picked by scale_index
const MM_IN_INDEXED: u32 = 16u; // in_scale is [A, K], row picked by scale_index

struct MatMulParams {
    m: u32,
    n: u32,
    k: u32,
    b_dt: u32,
    sa_m: u32,
    sa_k: u32,
    sa_b: u32,
    flags: u32,
    sb_k: u32,
    sb_n: u32,
    sb_b: u32,
    alpha: f32,
    batch: u32,
}

@group(0) @binding(0) var<uniform> mp: MatMulParams;
@group(0) @binding(1) var<storage, read_write> mm_out: array<f32>;
@group(0) @binding(2) var<storage, read> mm_a: array<f32>;
@group(0) @binding(3) var<storage, read> mm_b: array<u32>;
@group(0) @binding(4) var<storage, read> mm_bias: array<f32>;
@group(0) @binding(5) var<storage, read> mm_oscale: array<f32>;
@group(0) @binding(6) var<storage, read> mm_iscale: array<f32>;
@group(0) @binding(7) var<storage, read> mm_idx: array<i32>;

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> tile_a: array<f32, 1024>; // [TK][TILE]
var<workgroup> tile_b: array<f32, 1024>; // [TK][TILE]

// scale_row returns which stacked scale vector row m uses: 0 when the scale
// (flag bit indexed) is a single vector, -1 when the row is unscaled.
fn scale_row(m: u32, indexed: u32) -> i32 {
    if ((mp.flags & indexed) == 0u) {
        return 0;
    }
    return mm_idx[m];
}

fn load_a(z: u32, m: u32, k: u32) -> f32 {
    var v = mm_a[z * mp.sa_b + m * mp.sa_m + k * mp.sa_k];
    if ((mp.flags & MM_IN_SCALE) != 0u) {
        let s = scale_row(m, MM_IN_INDEXED);
        if (s >= 0) {
            v = v * mm_iscale[u32(s) * mp.k + k];
        }
    }
    return v;
}

fn load_b(z: u32, k: u32, n: u32) -> f32 {
    let i = z * mp.sb_b + k * mp.sb_k + n * mp.sb_n;
    if (mp.b_dt >= DT_Q8_0) {
        return load_bq(i);
    }
    return load_w(mm_b[word_index(mp.b_dt, i)], mp.b_dt, i);
}

// load_bq dequantises element i of a Q8_0 or NF4 b (see common.wgsl). A
// quantized b is always 2-D ([N, K] read transposed, or [K, N]) and shared
// by the batch, so it holds n·k elements and sb_b is 0, which also serves
// as nf4_absmax's opaque zero.
fn load_bq(i: u32) -> f32 {
    let n = mp.n * mp.k;
    if (mp.b_dt == DT_Q8_0) {
        return q8_value(mm_b[i >> 2u], mm_b[q8_scale_word(n, i)], i);
    }
    let t = nf4_table_word(n);
    return bitcast<f32>(mm_b[t + nf4_code(mm_b[i >> 3u], i)]) * load_nf4_absmax(n, i, t);
}

// load_nf4_absmax is the absmax of the block holding element i of an NF4 b
// of n elements whose tables start at word t.
fn load_nf4_absmax(n: u32, i: u32, t: u32) -> f32 {
    let acode = nf4_acode(mm_b[nf4_absmax_word(n, i)], i);
    return nf4_absmax(bitcast<f32>(mm_b[t + 16u + acode]), bitcast<f32>(mm_b[nf4_group_word(n, i)]),
                      bitcast<f32>(mm_b[nf4_offset_word(n)]), mp.sb_b);
}

// nf4_at is table entry NF4[code] of an NF4 b whose tables start at word t.
fn nf4_at(t: u32, code: u32) -> f32 {
    return bitcast<f32>(mm_b[t + code]);
}

// dot_bq8 is Σ load_a(z, r, k)·b(k, c) over the 8 elements k = 8j .. 8j+7
// of a quantized b read transposed (sb_k = 1), for the thin kernels: the 8
// lie in one block and one or two code words, so the scale and the words
// are decoded once for the 8 rather than once per element. K is a multiple
// of 8 (of the block size).
fn dot_bq8(z: u32, r: u32, c: u32, j: u32) -> f32 {
    let n = mp.n * mp.k;
    let k0 = 8u * j;
    let i = c * mp.sb_n + k0;
    var lo: vec4<f32>;
    var hi: vec4<f32>;
    if (mp.b_dt == DT_Q8_0) {
        let sw = mm_b[q8_scale_word(n, i)];
        let s = half_to_f32(select(sw & 0xffffu, sw >> 16u, ((i >> 5u) & 1u) == 1u));
        let w0 = mm_b[i >> 2u];
        let w1 = mm_b[(i >> 2u) + 1u];
        lo = s * vec4<f32>(vec4<i32>(i32(w0 << 24u), i32(w0 << 16u), i32(w0 << 8u), i32(w0)) >> vec4<u32>(24u));
        hi = s * vec4<f32>(vec4<i32>(i32(w1 << 24u), i32(w1 << 16u), i32(w1 << 8u), i32(w1)) >> vec4<u32>(24u));
    } else {
        let t = nf4_table_word(n);
        let a = load_nf4_absmax(n, i, t);
        // Byte q of the word holds element 2q in its high nibble.
        let w = mm_b[i >> 3u];
        lo = vec4<f32>(nf4_at(t, (w >> 4u) & 15u), nf4_at(t, w & 15u), nf4_at(t, (w >> 12u) & 15u), nf4_at(t, (w >> 8u) & 15u)) * a;
        hi = vec4<f32>(nf4_at(t, (w >> 20u) & 15u), nf4_at(t, (w >> 16u) & 15u), nf4_at(t, w >> 28u), nf4_at(t, (w >> 24u) & 15u)) * a;
    }
    let xa = vec4<f32>(load_a(z, r, k0), load_a(z, r, k0 + 1u), load_a(z, r, k0 + 2u), load_a(z, r, k0 + 3u));
    let xb = vec4<f32>(load_a(z, r, k0 + 4u), load_a(z, r, k0 + 5u), load_a(z, r, k0 + 6u), load_a(z, r, k0 + 7u));
    // a·b + c, not fma() or dot(): see matmul.
    let p = xa * lo + xb * hi;
    return (p.x + p.y) + (p.z + p.w);
}

// thin_chunked reports whether the thin kernels walk K 8 at a time with
// dot_bq8: a quantized b read transposed.
fn thin_chunked() -> bool {
    return mp.b_dt >= DT_Q8_0 && mp.sb_k == 1u;
}

// matmul_dequant writes m elements of a quantized b of n·k elements, from
// flat index sa_m on, dequantised, to out as F32: Copy, ToFloat32 and
// ScaleRows of Q8_0/NF4 tensors (a row range each for a result split across
// buffers), by the same code the products read their weights with.
// Launched 1-D over m.
@compute @workgroup_size(256)
fn matmul_dequant(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= mp.m) {
        return;
    }
    mm_out[i] = load_bq(mp.sa_m + i);
}

@compute @workgroup_size(16, 16, 1)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let z = wid.z;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    // Loads walk k fastest when the operand is contiguous along k, so that
    // neighbouring threads read neighbouring words.
    let a_k_fast = mp.sa_k == 1u;
    let b_k_fast = mp.sb_k == 1u;

    // acc[i] holds row ty + 16i, columns tx + 16j in its components j.
    // Plain vec4 variables, not an indexed array: private arrays indexed in
    // loops spill to memory on some compilers (llvmpipe among them).
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < mp.k; k0 = k0 + TK) {
        for (var e = 0u; e < 4u; e = e + 1u) {
            let idx = lid + e * 256u;
            var kk: u32;
            var mm: u32;
            if (a_k_fast) {
                kk = idx % TK;
                mm = idx / TK;
            } else {
                kk = idx / TILE;
                mm = idx % TILE;
            }
            var av = 0.0;
            if (row0 + mm < mp.m && k0 + kk < mp.k) {
                av = load_a(z, row0 + mm, k0 + kk);
            }
            tile_a[kk * TILE + mm] = av;

            var kb: u32;
            var nn: u32;
            if (b_k_fast) {
                kb = idx % TK;
                nn = idx / TK;
            } else {
                kb = idx / TILE;
                nn = idx % TILE;
            }
            var bv = 0.0;
            if (col0 + nn < mp.n && k0 + kb < mp.k) {
                bv = load_b(z, k0 + kb, col0 + nn);
            }
            tile_b[kb * TILE + nn] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            let ka = kk * TILE + ty;
            let kb = kk * TILE + tx;
            // a·b + c, not fma(): llvmpipe lowers fma to a libm call when
            // the CPU lacks FMA, which is many times slower.
            let br = vec4<f32>(tile_b[kb], tile_b[kb + 16u], tile_b[kb + 32u], tile_b[kb + 48u]);
            acc0 = acc0 + tile_a[ka] * br;
            acc1 = acc1 + tile_a[ka + 16u] * br;
            acc2 = acc2 + tile_a[ka + 32u] * br;
            acc3 = acc3 + tile_a[ka + 48u] * br;
        }
        workgroupBarrier();
    }

    store_row(z, row0 + ty, col0 + tx, acc0);
    store_row(z, row0 + ty + 16u, col0 + tx, acc1);
    store_row(z, row0 + ty + 32u, col0 + tx, acc2);
    store_row(z, row0 + ty + 48u, col0 + tx, acc3);
}

// store_row writes the four outputs of row r at columns c, c+16, c+32, c+48
// with the epilogue: alpha, then bias, then the output scale.
fn store_row(z: u32, r: u32, c: u32, v: vec4<f32>) {
    if (r >= mp.m) {
        return;
    }
    var srow = -1;
    if ((mp.flags & MM_OUT_SCALE) != 0u) {
        srow = scale_row(r, MM_OUT_INDEXED);
    }
    store_one(z, r, c, v.x, srow);
    store_one(z, r, c + 16u, v.y, srow);
    store_one(z, r, c + 32u, v.z, srow);
    store_one(z, r, c + 48u, v.w, srow);
}

fn store_one(z: u32, r: u32, c: u32, acc: f32, srow: i32) {
    if (c >= mp.n) {
        return;
    }
    var v = acc * mp.alpha;
    if ((mp.flags & MM_BIAS) != 0u) {
        v = v + mm_bias[c];
    }
    if (srow >= 0) {
        v = v * mm_oscale[u32(srow) * mp.n + c];
    }
    mm_out[(z * mp.m + r) * mp.n + c] = v;
}

// matmul_small computes one output per invocation with a plain loop over K
// and no workgroup memory: cheaper than the tiled kernel for small or thin
// products (a few rows, as in token-by-token generation), where most of a
// 64×64 tile would be idle. Launched 1-D over batch·M·N outputs.
@compute @workgroup_size(256)
fn matmul_small(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= mp.m * mp.n * mp.batch) {
        return;
    }
    let c = i % mp.n;
    let t = i / mp.n;
    let r = t % mp.m;
    let z = t / mp.m;
    var acc = 0.0;
    if (thin_chunked()) {
        for (var j = 0u; j < mp.k / 8u; j = j + 1u) {
            acc = acc + dot_bq8(z, r, c, j);
        }
    } else {
        for (var k = 0u; k < mp.k; k = k + 1u) {
            acc = acc + load_a(z, r, k) * load_b(z, k, c);
        }
    }
    var srow = -1;
    if ((mp.flags & MM_OUT_SCALE) != 0u) {
        srow = scale_row(r, MM_OUT_INDEXED);
    }
    store_one(z, r, c, acc, srow);
}

const DOT_WG: u32 = 64u;
var<workgroup> dot_part: array<f32, DOT_WG>;

// matmul_dot gives each output a workgroup of 64 threads that stride over K
// and add their partial sums in workgroup memory: for thin products (a few
// rows, long K) with b contiguous along K (b transposed, as torch Linear
// weights are), where one thread per output would leave the device idle and
// read b with a stride. Workgroups are numbered over x and y (x folds at the
// per-axis limit): output = wid.x + wid.y·nwg.x, in (z, r, c) order.
@compute @workgroup_size(64)
fn matmul_dot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let o = wid.x + wid.y * nwg.x;
    let total = mp.m * mp.n * mp.batch;
    // o is uniform across the workgroup, so every thread takes this branch
    // together and the barriers below stay in uniform control flow.
    let live = o < total;
    let oc = min(o, max(total, 1u) - 1u);
    let c = oc % mp.n;
    let t = oc / mp.n;
    let r = t % mp.m;
    let z = t / mp.m;
    var acc = 0.0;
    if (live && thin_chunked()) {
        for (var j = lid; j < mp.k / 8u; j = j + DOT_WG) {
            acc = acc + dot_bq8(z, r, c, j);
        }
    } else if (live) {
        for (var k = lid; k < mp.k; k = k + DOT_WG) {
            acc = acc + load_a(z, r, k) * load_b(z, k, c);
        }
    }
    dot_part[lid] = acc;
    workgroupBarrier();
    for (var h = DOT_WG / 2u; h > 0u; h = h >> 1u) {
        if (lid < h) {
            dot_part[lid] = dot_part[lid] + dot_part[lid + h];
        }
        workgroupBarrier();
    }
    if (live && lid == 0u) {
        var srow = -1;
        if ((mp.flags & MM_OUT_SCALE) != 0u) {
            srow = scale_row(r, MM_OUT_INDEXED);
        }
        store_one(z, r, c, dot_part[0], srow);
    }
}

// ---- matmul_large: 128×128 tiles for large products ----
//
// Each workgroup of 16×16 threads computes a 128×128 output tile; thread
// (tx, ty) holds 8×8 outputs in registers: rows ty·4 + {0..3} and
// 64 + ty·4 + {0..3}, columns tx·4 + {0..3} and 64 + tx·4 + {0..3}. K is
// walked 16 at a time. The a tile is kept transposed ([k][m]) and the b tile
// as [k][n], both as vec4 over m or n, so each step of the inner loop reads
// two vec4 of a and two of b and does 64 multiply-adds. Slots within a k row
// are XOR-swizzled by k (vec4 q of row k lives at slot q ^ k) so that the
// transposing stores of operands contiguous along k do not all hit one bank.
// The next k-step is fetched into registers while the current one is
// multiplied. Workgroup memory: 2 × 8 KiB, WebGPU's guaranteed 16 KiB.
// Workgroup (x, y, z) = (column tile, row tile, batch).

const LTILE: u32 = 128u;
const LQ: u32 = 32u; // vec4 slots per k row of a tile

var<workgroup> ltile_a: array<vec4<f32>, 512>; // [TK][LQ], swizzled
var<workgroup> ltile_b: array<vec4<f32>, 512>; // [TK][LQ], swizzled

// a_at is element (m, k) of a, zero outside the matrix.
fn a_at(z: u32, m: u32, k: u32) -> f32 {
    if (m < mp.m && k < mp.k) {
        return load_a(z, m, k);
    }
    return 0.0;
}

// b_at is element (k, n) of b, zero outside the matrix.
fn b_at(z: u32, k: u32, n: u32) -> f32 {
    if (k < mp.k && n < mp.n) {
        return load_b(z, k, n);
    }
    return 0.0;
}

// a4 fetches a rows m..m+3 at column k, zero outside the matrix; the bounds
// are checked once for the four when they lie inside.
fn a4(z: u32, m: u32, k: u32) -> vec4<f32> {
    if (m + 3u < mp.m && k < mp.k) {
        return vec4<f32>(load_a(z, m, k), load_a(z, m + 1u, k), load_a(z, m + 2u, k), load_a(z, m + 3u, k));
    }
    return vec4<f32>(a_at(z, m, k), a_at(z, m + 1u, k), a_at(z, m + 2u, k), a_at(z, m + 3u, k));
}

// b4 fetches b columns n..n+3 at row k, zero outside the matrix.
fn b4(z: u32, k: u32, n: u32) -> vec4<f32> {
    if (n + 3u < mp.n && k < mp.k) {
        return vec4<f32>(load_b(z, k, n), load_b(z, k, n + 1u), load_b(z, k, n + 2u), load_b(z, k, n + 3u));
    }
    return vec4<f32>(b_at(z, k, n), b_at(z, k, n + 1u), b_at(z, k, n + 2u), b_at(z, k, n + 3u));
}

// lslot is the swizzled workgroup-memory slot of vec4 q in k row kk.
fn lslot(kk: u32, q: u32) -> u32 {
    return kk * LQ + (q ^ kk);
}

// store8 writes row r's outputs at columns c..c+3 (lo) and c+64..c+67 (hi)
// with the epilogue.
fn store8(z: u32, r: u32, c: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (r >= mp.m) {
        return;
    }
    var srow = -1;
    if ((mp.flags & MM_OUT_SCALE) != 0u) {
        srow = scale_row(r, MM_OUT_INDEXED);
    }
    store_one(z, r, c, lo.x, srow);
    store_one(z, r, c + 1u, lo.y, srow);
    store_one(z, r, c + 2u, lo.z, srow);
    store_one(z, r, c + 3u, lo.w, srow);
    store_one(z, r, c + 64u, hi.x, srow);
    store_one(z, r, c + 65u, hi.y, srow);
    store_one(z, r, c + 66u, hi.z, srow);
    store_one(z, r, c + 67u, hi.w, srow);
}

@compute @workgroup_size(16, 16, 1)
fn matmul_large(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let z = wid.z;
    let row0 = wid.y * LTILE;
    let col0 = wid.x * LTILE;

    // Each thread fetches two vec4 of each operand per k-step: (k row, vec4
    // index) pairs (ka0, qa0), (ka1, qa1) of a and likewise of b. When the
    // operand is contiguous along k, neighbouring threads take neighbouring
    // k (16 threads cover one 64-byte run of a row); otherwise they take
    // neighbouring vec4 along m or n.
    var ka0: u32;
    var qa0: u32;
    var ka1: u32;
    var qa1: u32;
    if (mp.sa_k == 1u) {
        ka0 = lid % TK;
        qa0 = lid / TK;
        ka1 = ka0;
        qa1 = qa0 + 16u;
    } else {
        ka0 = lid / LQ;
        qa0 = lid % LQ;
        ka1 = ka0 + 8u;
        qa1 = qa0;
    }
    var kb0: u32;
    var qb0: u32;
    var kb1: u32;
    var qb1: u32;
    if (mp.sb_k == 1u) {
        kb0 = lid % TK;
        qb0 = lid / TK;
        kb1 = kb0;
        qb1 = qb0 + 16u;
    } else {
        kb0 = lid / LQ;
        qb0 = lid % LQ;
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

    var pa0 = a4(z, row0 + qa0 * 4u, ka0);
    var pa1 = a4(z, row0 + qa1 * 4u, ka1);
    var pb0 = b4(z, kb0, col0 + qb0 * 4u);
    var pb1 = b4(z, kb1, col0 + qb1 * 4u);
    for (var k0 = 0u; k0 < mp.k; k0 = k0 + TK) {
        ltile_a[lslot(ka0, qa0)] = pa0;
        ltile_a[lslot(ka1, qa1)] = pa1;
        ltile_b[lslot(kb0, qb0)] = pb0;
        ltile_b[lslot(kb1, qb1)] = pb1;
        workgroupBarrier();
        // Fetch the next k-step while this one is multiplied.
        let k1 = k0 + TK;
        if (k1 < mp.k) {
            pa0 = a4(z, row0 + qa0 * 4u, k1 + ka0);
            pa1 = a4(z, row0 + qa1 * 4u, k1 + ka1);
            pb0 = b4(z, k1 + kb0, col0 + qb0 * 4u);
            pb1 = b4(z, k1 + kb1, col0 + qb1 * 4u);
        }
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            let a0 = ltile_a[lslot(kk, ty)];
            let a1 = ltile_a[lslot(kk, ty + 16u)];
            let b0 = ltile_b[lslot(kk, tx)];
            let b1 = ltile_b[lslot(kk, tx + 16u)];
            // a·b + c, not fma(): see matmul.
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
    store8(z, row0 + ty * 4u, col, c00, c01);
    store8(z, row0 + ty * 4u + 1u, col, c10, c11);
    store8(z, row0 + ty * 4u + 2u, col, c20, c21);
    store8(z, row0 + ty * 4u + 3u, col, c30, c31);
    store8(z, row0 + 64u + ty * 4u, col, c40, c41);
    store8(z, row0 + 64u + ty * 4u + 1u, col, c50, c51);
    store8(z, row0 + 64u + ty * 4u + 2u, col, c60, c61);
    store8(z, row0 + 64u + ty * 4u + 3u, col, c70, c71);
}
