// Fused attention, backward: the gradients of q, k and v from the
// forward's out and per-row lse (attention.wgsl), recomputing each
// probability P = exp(logit − lse) blockwise instead of reading a stored
// [B, H, Tq, Tk] tensor. WGSL has no float atomics, so the work is split
// by what each thread owns:
//
//   attn_stats  stats = [lse | δ | keymask] with δ = rowsum(dO ⊙ O) per
//               query row, one thread per row (the key mask rides along so
//               the next passes bind one buffer fewer: WebGPU guarantees
//               only 8 storage buffers per stage).
//   attn_dq     a thread per query row, keys streamed through workgroup
//               memory: dP = dO·v, dS = P ⊙ (dP − δ), dq = Σ dS·k.
//   attn_dkv    a thread per key row of a key head, the queries of the
//               H/Hkv heads sharing it streamed through workgroup memory:
//               dv = Σ P·dO, dk = Σ dS·q (grouped heads summed in place).
//
// dS here is the gradient of the dot product q·k: the softmax's gradient
// times Scale and, with a soft-cap, times 1 − tanh²(s·Scale/cap). A row
// whose lse is AT_MASKED had no kept key; its probabilities are 1/Tk over
// every key, and it passes gradients back as SoftmaxBackward does.
//
// Bindings (attn_stats reuses the slots, see its comment):
//   1 g0 (rw): dq | dk        2 q    3 k    4 v    5 dout
//   6 stats                  7 bias            8 g1 (rw): dv

struct AttnParams {
    b: u32,
    h: u32,
    hkv: u32,
    tq: u32,
    tk: u32,
    d: u32,
    scale: f32,
    softcap: f32,
    flags: u32,
    window: u32,
    tile: u32,     // rows per workgroup-memory tile (keys, or queries in attn_dkv)
    blocks: u32,   // query blocks per (batch, head)
    kv_blocks: u32, // key blocks per (batch, key head)
    mask_off: u32, // offset of the key mask in stats: 2·B·H·Tq
    pad0: u32,
    pad1: u32,
}

const AB_WG: u32 = 64u;
const AB_MAXD: u32 = 256u;
const AB_TILE_FLOATS: u32 = 3840u; // with ab_rows, under 16 KiB of workgroup memory
const AB_CAUSAL: u32 = 1u;
const AB_KEYMASK: u32 = 2u;
const AB_BIAS: u32 = 4u;
const AB_BIAS_PER_BATCH: u32 = 8u;
const AB_MASKED: f32 = 3.40282347e+38;

@group(0) @binding(0) var<uniform> ab_p: AttnParams;
@group(0) @binding(1) var<storage, read_write> ab_g0: array<f32>;
@group(0) @binding(2) var<storage, read> ab_q: array<f32>;
@group(0) @binding(3) var<storage, read> ab_k: array<f32>;
@group(0) @binding(4) var<storage, read> ab_v: array<f32>;
@group(0) @binding(5) var<storage, read> ab_dout: array<f32>;
@group(0) @binding(6) var<storage, read> ab_stats: array<f32>;
@group(0) @binding(7) var<storage, read> ab_bias: array<f32>;
@group(0) @binding(8) var<storage, read_write> ab_g1: array<f32>;

var<workgroup> ab_tile: array<f32, AB_TILE_FLOATS>;
var<workgroup> ab_rows: array<f32, 128>; // attn_dkv: lse and δ of a query tile

// ab_kept reports whether key j survives the masks for query i of batch b.
fn ab_kept(b: u32, i: u32, j: u32) -> bool {
    let diag = i32(i) + i32(ab_p.tk) - i32(ab_p.tq);
    if ((ab_p.flags & AB_CAUSAL) != 0u && i32(j) > diag) {
        return false;
    }
    if (ab_p.window > 0u && i32(j) <= diag - i32(ab_p.window)) {
        return false;
    }
    if ((ab_p.flags & AB_KEYMASK) != 0u && ab_stats[ab_p.mask_off + b * ab_p.tk + j] == 0.0) {
        return false;
    }
    return true;
}

// ab_logit is attention.wgsl's at_logit: scaled, soft-capped, biased.
fn ab_logit(s: f32, b: u32, h: u32, i: u32, j: u32) -> f32 {
    var x = s * ab_p.scale;
    if (ab_p.softcap > 0.0) {
        x = ab_p.softcap * tanh(x / ab_p.softcap);
    }
    if ((ab_p.flags & AB_BIAS) != 0u) {
        var row = h * ab_p.tq + i;
        if ((ab_p.flags & AB_BIAS_PER_BATCH) != 0u) {
            row = (b * ab_p.h + h) * ab_p.tq + i;
        }
        x = x + ab_bias[row * ab_p.tk + j];
    }
    return x;
}

// ab_dlogit is d(logit)/d(q·k) at the dot product s: Scale, times
// 1 − tanh² under a soft-cap.
fn ab_dlogit(s: f32) -> f32 {
    if (ab_p.softcap > 0.0) {
        let t = tanh(s * ab_p.scale / ab_p.softcap);
        return ab_p.scale * (1.0 - t * t);
    }
    return ab_p.scale;
}

// ab_key_range is at_key_range: the keys [lo, hi) queries q0..q1−1 can see.
fn ab_key_range(q0: u32, q1: u32) -> vec2<u32> {
    var lo = 0i;
    var hi = i32(ab_p.tk);
    let off = i32(ab_p.tk) - i32(ab_p.tq);
    if ((ab_p.flags & AB_CAUSAL) != 0u) {
        hi = clamp(i32(q1) - 1 + off + 1, 0, i32(ab_p.tk));
    }
    if (ab_p.window > 0u) {
        lo = clamp(i32(q0) + off - i32(ab_p.window) + 1, 0, hi);
    }
    return vec2<u32>(u32(lo), u32(max(hi, lo)));
}

// attn_stats: one thread per query row r of B·H·Tq, then one per key-mask
// entry. Slots: g0 = stats (written), q = lse, k = out, v = dout,
// dout = keymask (read only when AB_KEYMASK is set).
@compute @workgroup_size(64)
fn attn_stats(@builtin(global_invocation_id) gid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = linear_index(gid, nwg, AB_WG);
    let rows = ab_p.b * ab_p.h * ab_p.tq;
    if (r < rows) {
        let b = r / (ab_p.h * ab_p.tq);
        let h = (r / ab_p.tq) % ab_p.h;
        let i = r % ab_p.tq;
        let base = (b * ab_p.tq + i) * ab_p.h * ab_p.d + h * ab_p.d;
        var delta = 0.0;
        for (var x = 0u; x < ab_p.d; x++) {
            delta += ab_k[base + x] * ab_v[base + x];
        }
        ab_g0[r] = ab_q[r];
        ab_g0[rows + r] = delta;
    } else if ((ab_p.flags & AB_KEYMASK) != 0u && r < rows + ab_p.b * ab_p.tk) {
        ab_g0[rows + r] = ab_dout[r - rows];
    }
}

// attn_dq: a workgroup per (batch, head, block of AB_WG queries), as the
// forward. g0 = dq [B, H, Tq, D].
@compute @workgroup_size(64)
fn attn_dq(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    if (g >= ab_p.b * ab_p.h * ab_p.blocks) {
        return;
    }
    let d = ab_p.d;
    let rows = ab_p.b * ab_p.h * ab_p.tq;
    let bh = g / ab_p.blocks;
    let b = bh / ab_p.h;
    let h = bh % ab_p.h;
    let kh = h / (ab_p.h / ab_p.hkv);
    let q0 = (g % ab_p.blocks) * AB_WG;
    let q1 = min(q0 + AB_WG, ab_p.tq);
    let i = q0 + lid;
    let valid = i < ab_p.tq;
    let row = bh * ab_p.tq + i;
    let kvbase = (b * ab_p.hkv + kh) * ab_p.tk * d;
    let gbase = (b * ab_p.tq + i) * ab_p.h * d + h * d;

    var qv: array<f32, AB_MAXD>;
    var gv: array<f32, AB_MAXD>;
    var acc: array<f32, AB_MAXD>;
    var lse = 0.0;
    var delta = 0.0;
    if (valid) {
        for (var x = 0u; x < d; x++) {
            qv[x] = ab_q[row * d + x];
            gv[x] = ab_dout[gbase + x];
            acc[x] = 0.0;
        }
        lse = ab_stats[row];
        delta = ab_stats[rows + row];
    }
    let masked = lse >= AB_MASKED;
    let kr = ab_key_range(q0, q1);
    let vt = ab_p.tile * d;
    for (var k0 = kr.x; k0 < kr.y; k0 += ab_p.tile) {
        let nk = min(ab_p.tile, kr.y - k0);
        workgroupBarrier();
        for (var e = lid; e < nk * d; e += AB_WG) {
            ab_tile[e] = ab_k[kvbase + k0 * d + e];
            ab_tile[vt + e] = ab_v[kvbase + k0 * d + e];
        }
        workgroupBarrier();
        if (valid && !masked) {
            for (var jj = 0u; jj < nk; jj++) {
                let j = k0 + jj;
                if (!ab_kept(b, i, j)) {
                    continue;
                }
                var s = 0.0;
                var dp = 0.0;
                for (var x = 0u; x < d; x++) {
                    s += qv[x] * ab_tile[jj * d + x];
                    dp += gv[x] * ab_tile[vt + jj * d + x];
                }
                let p = exp(ab_logit(s, b, h, i, j) - lse);
                let ds = p * (dp - delta) * ab_dlogit(s);
                for (var x = 0u; x < d; x++) {
                    acc[x] += ds * ab_tile[jj * d + x];
                }
            }
        }
    }
    if (!valid) {
        return;
    }
    if (masked) {
        // A uniform row touches every key, seen or not by its block.
        let p = 1.0 / f32(ab_p.tk);
        for (var j = 0u; j < ab_p.tk; j++) {
            var s = 0.0;
            var dp = 0.0;
            for (var x = 0u; x < d; x++) {
                s += qv[x] * ab_k[kvbase + j * d + x];
                dp += gv[x] * ab_v[kvbase + j * d + x];
            }
            let ds = p * (dp - delta) * ab_dlogit(s);
            for (var x = 0u; x < d; x++) {
                acc[x] += ds * ab_k[kvbase + j * d + x];
            }
        }
    }
    for (var x = 0u; x < d; x++) {
        ab_g0[row * d + x] = acc[x];
    }
}

// attn_dkv: a workgroup per (batch, key head, block of AB_WG keys), a
// thread per key; g0 = dk and g1 = dv [B, Hkv, Tk, D]. Without a key mask
// and with Tq ≤ Tk no row is empty, so under the causal and window masks
// only the queries that see the block's keys are visited; otherwise every
// query is (an empty row touches every key).
@compute @workgroup_size(64)
fn attn_dkv(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    if (g >= ab_p.b * ab_p.hkv * ab_p.kv_blocks) {
        return;
    }
    let d = ab_p.d;
    let rows = ab_p.b * ab_p.h * ab_p.tq;
    let bk = g / ab_p.kv_blocks;
    let b = bk / ab_p.hkv;
    let kh = bk % ab_p.hkv;
    let group = ab_p.h / ab_p.hkv;
    let j0 = (g % ab_p.kv_blocks) * AB_WG;
    let j1 = min(j0 + AB_WG, ab_p.tk);
    let j = j0 + lid;
    let valid = j < ab_p.tk;
    let krow = bk * ab_p.tk + j;

    var kv: array<f32, AB_MAXD>;
    var vv: array<f32, AB_MAXD>;
    var dk: array<f32, AB_MAXD>;
    var dv: array<f32, AB_MAXD>;
    if (valid) {
        for (var x = 0u; x < d; x++) {
            kv[x] = ab_k[krow * d + x];
            vv[x] = ab_v[krow * d + x];
            dk[x] = 0.0;
            dv[x] = 0.0;
        }
    }
    var qlo = 0i;
    var qhi = i32(ab_p.tq);
    let off = i32(ab_p.tk) - i32(ab_p.tq);
    if ((ab_p.flags & AB_KEYMASK) == 0u && off >= 0) {
        if ((ab_p.flags & AB_CAUSAL) != 0u) {
            qlo = clamp(i32(j0) - off, 0, qhi);
        }
        if (ab_p.window > 0u) {
            qhi = clamp(i32(j1) - 1 - off + i32(ab_p.window), qlo, qhi);
        }
    }
    let ot = ab_p.tile * d; // the dout rows follow the q rows in ab_tile
    let inv_tk = 1.0 / f32(ab_p.tk);
    for (var h = kh * group; h < (kh + 1u) * group; h++) {
        let bh = b * ab_p.h + h;
        for (var i0 = u32(qlo); i0 < u32(qhi); i0 += ab_p.tile) {
            let nq = min(ab_p.tile, u32(qhi) - i0);
            workgroupBarrier();
            for (var e = lid; e < nq * d; e += AB_WG) {
                let ii = e / d;
                let x = e % d;
                ab_tile[e] = ab_q[(bh * ab_p.tq + i0) * d + e];
                ab_tile[ot + e] = ab_dout[(b * ab_p.tq + i0 + ii) * ab_p.h * d + h * d + x];
            }
            for (var e = lid; e < nq; e += AB_WG) {
                ab_rows[2u * e] = ab_stats[bh * ab_p.tq + i0 + e];
                ab_rows[2u * e + 1u] = ab_stats[rows + bh * ab_p.tq + i0 + e];
            }
            workgroupBarrier();
            if (valid) {
                for (var ii = 0u; ii < nq; ii++) {
                    let i = i0 + ii;
                    let lse = ab_rows[2u * ii];
                    let masked = lse >= AB_MASKED;
                    if (!masked && !ab_kept(b, i, j)) {
                        continue;
                    }
                    var s = 0.0;
                    var dp = 0.0;
                    for (var x = 0u; x < d; x++) {
                        s += ab_tile[ii * d + x] * kv[x];
                        dp += ab_tile[ot + ii * d + x] * vv[x];
                    }
                    var p = inv_tk;
                    if (!masked) {
                        p = exp(ab_logit(s, b, h, i, j) - lse);
                    }
                    let ds = p * (dp - ab_rows[2u * ii + 1u]) * ab_dlogit(s);
                    for (var x = 0u; x < d; x++) {
                        dv[x] += p * ab_tile[ot + ii * d + x];
                        dk[x] += ds * ab_tile[ii * d + x];
                    }
                }
            }
        }
    }
    if (!valid) {
        return;
    }
    for (var x = 0u; x < d; x++) {
        ab_g0[krow * d + x] = dk[x];
        ab_g1[krow * d + x] = dv[x];
    }
}
