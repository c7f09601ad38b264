// Grouped-query attention helpers on [B, heads, T, D] tensors, one thread per
// output element (launched with groups1D; linear_index of common.wgsl
// recovers the index).
//   repeat_kv  out [B, Hkv·n, T, D], x [B, Hkv, T, D]: head h reads x's head h / n
//   sum_kv     out [B, Hkv, T, D], x [B, Hkv·n, T, D]: head g sums heads g·n .. g·n+n-1
// sum_kv adds the n heads in ascending order, so it is deterministic.

struct KVParams {
    n: u32,     // elements of out
    rep: u32,   // n, the repeat factor
    hkv: u32,
    inner: u32, // T·D
}

const KV_WG: u32 = 256u;

@group(0) @binding(0) var<uniform> kv_p: KVParams;
@group(0) @binding(1) var<storage, read_write> kv_out: array<f32>;
@group(0) @binding(2) var<storage, read> kv_x: array<f32>;

@compute @workgroup_size(256)
fn repeat_kv(@builtin(global_invocation_id) gid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_index(gid, nwg, KV_WG);
    if (e >= kv_p.n) {
        return;
    }
    let heads = kv_p.hkv * kv_p.rep;
    let o = e % kv_p.inner;
    let bh = e / kv_p.inner;
    let b = bh / heads;
    let h = bh % heads;
    kv_out[e] = kv_x[(b * kv_p.hkv + h / kv_p.rep) * kv_p.inner + o];
}

@compute @workgroup_size(256)
fn sum_kv(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_index(gid, nwg, KV_WG);
    if (e >= kv_p.n) {
        return;
    }
    let o = e % kv_p.inner;
    let bg = e / kv_p.inner; // b·Hkv + g
    let first = bg * kv_p.rep; // (b·Hkv + g)·n = b·Hkv·n + g·n
    var s = 0.0;
    for (var k = 0u; k < kv_p.rep; k = k + 1u) {
        s = s + kv_x[(first + k) * kv_p.inner + o];
    }
    kv_out[e] = s;
}
