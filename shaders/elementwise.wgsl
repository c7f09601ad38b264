// elementwise.wgsl: element-wise arithmetic on F32 tensors. Every entry
// binds its output at 1 and its inputs after it.
//   binary   out, a, b    out = a op b[i % nb]  (b is a suffix of a's shape)
//   affine   out, x       out = alpha·x + beta
//   axpy     out, x       out = w·x (first term) or out + w·x
// The entries ending in 4 do the same four elements per thread through
// vec4 views of the same buffers; the host picks them when n (and for
// binary4 also nb) is a multiple of 4, so each thread moves 16 bytes per
// access. binary4 indexes b without a modulo when b has a's full shape.

const OP_ADD: u32 = 0u;
const OP_SUB: u32 = 1u;
const OP_MUL: u32 = 2u;

struct BinaryParams {
    n: u32,
    nb: u32,
    op: u32,
}

struct AffineParams {
    n: u32,
    alpha: f32,
    beta: f32,
}

struct AxpyParams {
    n: u32,
    w: f32,
    first: u32, // 1: out = w·x; 0: out += w·x
}

@group(0) @binding(0) var<uniform> bp: BinaryParams;
@group(0) @binding(0) var<uniform> ap: AffineParams;
@group(0) @binding(0) var<uniform> xp: AxpyParams;
@group(0) @binding(1) var<storage, read_write> ew_out: array<f32>;
@group(0) @binding(2) var<storage, read> ew_a: array<f32>;
@group(0) @binding(3) var<storage, read> ew_b: array<f32>;
@group(0) @binding(1) var<storage, read_write> ew_out4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> ew_a4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> ew_b4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= bp.n) {
        return;
    }
    let a = ew_a[i];
    let b = ew_b[i % bp.nb];
    var r: f32;
    switch bp.op {
        case 0u: { r = a + b; }
        case 1u: { r = a - b; }
        default: { r = a * b; }
    }
    ew_out[i] = r;
}

@compute @workgroup_size(256)
fn affine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= ap.n) {
        return;
    }
    ew_out[i] = ap.alpha * ew_a[i] + ap.beta;
}

@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= xp.n) {
        return;
    }
    let t = xp.w * ew_a[i];
    if (xp.first == 1u) {
        ew_out[i] = t;
    } else {
        ew_out[i] = ew_out[i] + t;
    }
}

// binary4: n and nb are counts of vec4s here.
@compute @workgroup_size(256)
fn binary4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= bp.n) {
        return;
    }
    var j = i;
    if (bp.nb != bp.n) {
        j = i % bp.nb;
    }
    let a = ew_a4[i];
    let b = ew_b4[j];
    var r: vec4<f32>;
    switch bp.op {
        case 0u: { r = a + b; }
        case 1u: { r = a - b; }
        default: { r = a * b; }
    }
    ew_out4[i] = r;
}

// affine4: n is a count of vec4s.
@compute @workgroup_size(256)
fn affine4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= ap.n) {
        return;
    }
    ew_out4[i] = ap.alpha * ew_a4[i] + ap.beta;
}

// axpy4: n is a count of vec4s.
@compute @workgroup_size(256)
fn axpy4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= xp.n) {
        return;
    }
    let t = xp.w * ew_a4[i];
    if (xp.first == 1u) {
        ew_out4[i] = t;
    } else {
        ew_out4[i] = ew_out4[i] + t;
    }
}
