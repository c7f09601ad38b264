// reduce.wgsl: sums and finiteness checks over F32 tensors. Every entry
// binds its output at 1 and its input at 2. Summation orders are fixed, so
// results are deterministic run to run.
//   col_sums    out [ceil(rows/chunk), cols], x [rows, cols]: each output
//               sums `chunk` consecutive rows of one column
//   col_sums4   the same with cols counted in vec4s: each thread sums four
//               adjacent columns (picked by the host when cols % 4 == 0)
//   block_sums  out [ceil(n/2048)], x [n]: each workgroup sums 2048
//               elements (squared when square = 1)
//   nonfinite   flag [1] (atomic), x [n]: sets flag to 1 if any x is NaN/Inf
//   col_mul_sums, col_mul_sums4  col_sums of x ⊙ y, y [rows, cols] bound at
//               3: the first pass of MulSumRows (later passes are col_sums)

struct ColParams {
    rows: u32,
    cols: u32,
    chunk: u32,
}

struct BlockParams {
    n: u32,
    square: u32,
}

struct CountParams {
    n: u32,
}

const RED_WG: u32 = 256u;
const RED_PER_THREAD: u32 = 8u;

@group(0) @binding(0) var<uniform> colp: ColParams;
@group(0) @binding(0) var<uniform> blkp: BlockParams;
@group(0) @binding(0) var<uniform> cntp: CountParams;
@group(0) @binding(1) var<storage, read_write> red_out: array<f32>;
@group(0) @binding(1) var<storage, read_write> red_flag: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read> red_x: array<f32>;
@group(0) @binding(1) var<storage, read_write> red_out4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> red_x4: array<vec4<f32>>;

@group(0) @binding(3) var<storage, read> red_y: array<f32>;
@group(0) @binding(3) var<storage, read> red_y4: array<vec4<f32>>;

var<workgroup> red_part: array<f32, RED_WG>;

@compute @workgroup_size(256)
fn col_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, RED_WG);
    let nchunks = (colp.rows + colp.chunk - 1u) / colp.chunk;
    if (i >= nchunks * colp.cols) {
        return;
    }
    let c = i % colp.cols;
    let ch = i / colp.cols;
    let r0 = ch * colp.chunk;
    let r1 = min(r0 + colp.chunk, colp.rows);
    var s = 0.0;
    for (var r = r0; r < r1; r = r + 1u) {
        s = s + red_x[r * colp.cols + c];
    }
    red_out[i] = s;
}

@compute @workgroup_size(256)
fn col_sums4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, RED_WG);
    let nchunks = (colp.rows + colp.chunk - 1u) / colp.chunk;
    if (i >= nchunks * colp.cols) {
        return;
    }
    let c = i % colp.cols;
    let ch = i / colp.cols;
    let r0 = ch * colp.chunk;
    let r1 = min(r0 + colp.chunk, colp.rows);
    var s = vec4<f32>(0.0);
    for (var r = r0; r < r1; r = r + 1u) {
        s = s + red_x4[r * colp.cols + c];
    }
    red_out4[i] = s;
}

@compute @workgroup_size(256)
fn block_sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = wid.x + wid.y * nwg.x;
    let base = block * RED_WG * RED_PER_THREAD;
    var s = 0.0;
    for (var j = 0u; j < RED_PER_THREAD; j = j + 1u) {
        let k = base + j * RED_WG + lid;
        if (k < blkp.n) {
            let v = red_x[k];
            s = s + select(v, v * v, blkp.square == 1u);
        }
    }
    red_part[lid] = s;
    workgroupBarrier();
    for (var h = RED_WG / 2u; h > 0u; h = h >> 1u) {
        if (lid < h) {
            red_part[lid] = red_part[lid] + red_part[lid + h];
        }
        workgroupBarrier();
    }
    if (lid == 0u && base < blkp.n) {
        red_out[block] = red_part[0];
    }
}

@compute @workgroup_size(256)
fn nonfinite(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, RED_WG);
    if (i >= cntp.n) {
        return;
    }
    if (!is_finite_bits(red_x[i])) {
        atomicOr(&red_flag[0], 1u);
    }
}

// col_sums of red_x ⊙ red_y, each product rounded to f32 as Mul rounds it.
@compute @workgroup_size(256)
fn col_mul_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, RED_WG);
    let nchunks = (colp.rows + colp.chunk - 1u) / colp.chunk;
    if (i >= nchunks * colp.cols) {
        return;
    }
    let c = i % colp.cols;
    let ch = i / colp.cols;
    let r0 = ch * colp.chunk;
    let r1 = min(r0 + colp.chunk, colp.rows);
    var s = 0.0;
    for (var r = r0; r < r1; r = r + 1u) {
        s = s + red_x[r * colp.cols + c] * red_y[r * colp.cols + c];
    }
    red_out[i] = s;
}

@compute @workgroup_size(256)
fn col_mul_sums4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, RED_WG);
    let nchunks = (colp.rows + colp.chunk - 1u) / colp.chunk;
    if (i >= nchunks * colp.cols) {
        return;
    }
    let c = i % colp.cols;
    let ch = i / colp.cols;
    let r0 = ch * colp.chunk;
    let r1 = min(r0 + colp.chunk, colp.rows);
    var s = vec4<f32>(0.0);
    for (var r = r0; r < r1; r = r + 1u) {
        s = s + red_x4[r * colp.cols + c] * red_y4[r * colp.cols + c];
    }
    red_out4[i] = s;
}
