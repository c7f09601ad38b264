// layout.wgsl: copies that move or widen elements without arithmetic.

struct WidenParams {
    n: u32,
    dt: u32,
}

@group(0) @binding(0) var<uniform> wp: WidenParams;
@group(0) @binding(1) var<storage, read> src_words: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst_f32: array<f32>;

// widen converts a packed F16/BF16 (or F32) tensor to F32.
@compute @workgroup_size(256)
fn widen(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= wp.n) {
        return;
    }
    dst_f32[i] = load_w(src_words[word_index(wp.dt, i)], wp.dt, i);
}
