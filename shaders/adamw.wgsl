// adamw.wgsl: one torch.optim.AdamW step (the single-tensor path), in place:
//   p ← p·(1 − lr·wd)
//   m ← m + (1 − β1)(g − m)            (torch's lerp, weight < 0.5)
//   v ← β2·v + (1 − β2)·g²
//   p ← p − step_size · m / (sqrt(v)/bc2_sqrt + eps)
// with step_size = lr/(1 − β1^t) and bc2_sqrt = sqrt(1 − β2^t) computed on
// the host in float64.

struct AdamWParams {
    n: u32,
    decay: f32,     // 1 − lr·wd
    beta1: f32,
    w1: f32,        // 1 − β1, from the host in float64
    beta2: f32,
    w2: f32,        // 1 − β2, from the host in float64
    eps: f32,
    step_size: f32,
    bc2_sqrt: f32,
}

@group(0) @binding(0) var<uniform> awp: AdamWParams;
@group(0) @binding(1) var<storage, read_write> aw_p: array<f32>;
@group(0) @binding(2) var<storage, read_write> aw_m: array<f32>;
@group(0) @binding(3) var<storage, read_write> aw_v: array<f32>;
@group(0) @binding(4) var<storage, read> aw_g: array<f32>;

@compute @workgroup_size(256)
fn adamw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= awp.n) {
        return;
    }
    let g = aw_g[i];
    let p = aw_p[i] * awp.decay;
    var m = aw_m[i];
    if (awp.w1 < 0.5) {
        m = m + awp.w1 * (g - m);
    } else {
        m = g - (g - m) * (1.0 - awp.w1);
    }
    let v = aw_v[i] * awp.beta2 + awp.w2 * g * g;
    let denom = sqrt(v) / awp.bc2_sqrt + awp.eps;
    aw_m[i] = m;
    aw_v[i] = v;
    aw_p[i] = p - awp.step_size * (m / denom);
}
