// adapter.wgsl: (IA)³ merge maths. scale multiplies each row (or column) of
// a weight w [rows, cols] of any float storage type by v, or divides by
// v + 1e-8 (PEFT's unmerge), giving F32.
//   scale   out [rows, cols], w (raw words of dtype dt), v [rows] or [cols]

const SCALE_INVERT: u32 = 1u;
const SCALE_COLS: u32 = 2u;

struct ScaleParams {
    rows: u32,
    cols: u32,
    dt: u32,
    flags: u32,
}

@group(0) @binding(0) var<uniform> scp: ScaleParams;
@group(0) @binding(1) var<storage, read_write> sc_out: array<f32>;
@group(0) @binding(2) var<storage, read> sc_w: array<u32>;
@group(0) @binding(3) var<storage, read> sc_v: array<f32>;

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= scp.rows * scp.cols) {
        return;
    }
    let w = load_w(sc_w[word_index(scp.dt, i)], scp.dt, i);
    let v = sc_v[select(i / scp.cols, i % scp.cols, (scp.flags & SCALE_COLS) != 0u)];
    if ((scp.flags & SCALE_INVERT) != 0u) {
        sc_out[i] = w / (v + 1e-8);
    } else {
        sc_out[i] = w * v;
    }
}
