// layout.wgsl: copies that move or widen elements without arithmetic. Every
// entry binds its output (or the tensor it writes into) at 1 and its input
// at 2.
//   widen          out F32 [n], src raw words of dtype dt
//   permute        out [o0,o1,o2,o3], x read at Σ i_d·stride_d
//   narrow         out [outer, len, inner] = x[outer, start:start+len, inner]
//   narrow_assign  dst[outer, start:start+len, inner] = src [outer, len, inner]
// permute4, narrow4 and narrow_assign4 move four elements per thread through
// vec4 views; the host picks them when every index they form is a multiple
// of 4 (the last dimension stays last with a length divisible by 4 for
// permute, inner divisible by 4 for narrow) and passes the parameters in
// vec4 units. Consecutive threads write consecutive output addresses.

struct WidenParams {
    n: u32,
    dt: u32,
}

struct PermuteParams {
    n: u32,
    o1: u32,
    o2: u32,
    o3: u32,
    s0: u32,
    s1: u32,
    s2: u32,
    s3: u32,
}

struct NarrowParams {
    n: u32,     // elements of the narrow slice (out of narrow, src of assign)
    inner: u32, // product of the dimensions after dim
    len: u32,   // length of the slice along dim
    dim: u32,   // full length along dim
    start: u32,
}

@group(0) @binding(0) var<uniform> wp: WidenParams;
@group(0) @binding(0) var<uniform> pp: PermuteParams;
@group(0) @binding(0) var<uniform> np: NarrowParams;
@group(0) @binding(1) var<storage, read_write> lay_out: array<f32>;
@group(0) @binding(2) var<storage, read> lay_in: array<f32>;
@group(0) @binding(2) var<storage, read> lay_words: array<u32>;
@group(0) @binding(1) var<storage, read_write> lay_out4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> lay_in4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn widen(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= wp.n) {
        return;
    }
    lay_out[i] = load_w(lay_words[word_index(wp.dt, i)], wp.dt, i);
}

@compute @workgroup_size(256)
fn permute(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= pp.n) {
        return;
    }
    lay_out[i] = lay_in[permute_index(i)];
}

// permute_index maps output element i to its index in x.
fn permute_index(i: u32) -> u32 {
    let i3 = i % pp.o3;
    var t = i / pp.o3;
    let i2 = t % pp.o2;
    t = t / pp.o2;
    let i1 = t % pp.o1;
    let i0 = t / pp.o1;
    return i0 * pp.s0 + i1 * pp.s1 + i2 * pp.s2 + i3 * pp.s3;
}

@compute @workgroup_size(256)
fn permute4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= pp.n) {
        return;
    }
    lay_out4[i] = lay_in4[permute_index(i)];
}

// slice_index maps element i of the slice to its index in the full tensor.
fn slice_index(i: u32) -> u32 {
    let e = i % np.inner;
    let t = i / np.inner;
    let l = t % np.len;
    let o = t / np.len;
    return (o * np.dim + np.start + l) * np.inner + e;
}

@compute @workgroup_size(256)
fn narrow(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= np.n) {
        return;
    }
    lay_out[i] = lay_in[slice_index(i)];
}

@compute @workgroup_size(256)
fn narrow_assign(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= np.n) {
        return;
    }
    lay_out[slice_index(i)] = lay_in[i];
}

@compute @workgroup_size(256)
fn narrow4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= np.n) {
        return;
    }
    lay_out4[i] = lay_in4[slice_index(i)];
}

@compute @workgroup_size(256)
fn narrow_assign4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= np.n) {
        return;
    }
    lay_out4[slice_index(i)] = lay_in4[i];
}
