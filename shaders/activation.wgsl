// activation.wgsl: element-wise activations and their input gradients.
//   act        out, x          out = f(x)
//   act_grad   out, x, dy      out = dy · f'(x)
//   swiglu     out, gate, up   out = silu(gate) · up
//   swiglu_dgate out, gate, up, dy   d gate = dy · up · silu'(gate)
//   swiglu_dup   out, gate, up, dy   d up   = dy · silu(gate)
// The entries ending in 4 do the same on four elements per thread through
// vec4 views of the same buffers (n counted in vec4s); the host picks them
// when n is a multiple of 4.
// The function codes follow backend.Unary: 0 GELU (erf), 1 GELU (tanh),
// 2 ReLU, 3 SiLU, 4 Tanh, 5 Sigmoid, 6 Log.

struct ActParams {
    n: u32,
    f: u32,
}

@group(0) @binding(0) var<uniform> actp: ActParams;
@group(0) @binding(1) var<storage, read_write> act_out: array<f32>;
@group(0) @binding(2) var<storage, read> act_x: array<f32>;
@group(0) @binding(3) var<storage, read> act_y: array<f32>;
@group(0) @binding(4) var<storage, read> act_dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> act_out4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> act_x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> act_y4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> act_dy4: array<vec4<f32>>;

const INV_SQRT2: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;
const SQRT_2_OVER_PI: f32 = 0.79788456080286536;
const GELU_C: f32 = 0.044715;

// erf_f32 is erf to float32 accuracy. It follows fdlibm's s_erf.c (the
// algorithm of Go's math.Erf): x + x·P(x²)/Q(x²) below 0.84375, a rational
// expansion around 1 up to 1.25, and erfc(x) = exp(-x² - 0.5625 + R(1/x²)/S(1/x²))/x
// beyond, with the published coefficients rounded to f32. Above 4, erf(x)
// rounds to ±1 in f32.
fn erf_f32(x: f32) -> f32 {
    let ax = abs(x);
    if (ax < 0.84375) {
        let z = x * x;
        let r = 1.28379167095512558561e-01 + z * (-3.25042107247001499370e-01 + z * (-2.84817495755985104766e-02 + z * (-5.77027029648944159157e-03 + z * -2.37630166566501626084e-05)));
        let s = 1.0 + z * (3.97917223959155352819e-01 + z * (6.50222499887672944485e-02 + z * (5.08130628187576562776e-03 + z * (1.32494738004321644526e-04 + z * -3.96022827877536812320e-06))));
        return x + x * (r / s);
    }
    if (ax < 1.25) {
        let s = ax - 1.0;
        let p = -2.36211856075265944077e-03 + s * (4.14856118683748331666e-01 + s * (-3.72207876035701323847e-01 + s * (3.18346619901161753674e-01 + s * (-1.10894694282396677476e-01 + s * (3.54783043256182359371e-02 + s * -2.16637559486879084300e-03)))));
        let q = 1.0 + s * (1.06420880400844228286e-01 + s * (5.40397917702171048937e-01 + s * (7.18286544141962662868e-02 + s * (1.26171219808761642112e-01 + s * (1.36370839120290507362e-02 + s * 1.19844998467991074170e-02)))));
        let e = 8.45062911510467529297e-01 + p / q;
        return select(-e, e, x >= 0.0);
    }
    if (ax >= 4.0) {
        return select(-1.0, 1.0, x >= 0.0);
    }
    let s = 1.0 / (ax * ax);
    var r: f32;
    var q: f32;
    if (ax < 2.857142857) {
        r = -9.86494403484714822705e-03 + s * (-6.93858572707181764372e-01 + s * (-1.05586262253232909814e+01 + s * (-6.23753324503260060396e+01 + s * (-1.62396669462573470355e+02 + s * (-1.84605092906711035994e+02 + s * (-8.12874355063065934246e+01 + s * -9.81432934416914548592e+00))))));
        q = 1.0 + s * (1.96512716674392571292e+01 + s * (1.37657754143519042600e+02 + s * (4.34565877475229228821e+02 + s * (6.45387271733267880336e+02 + s * (4.29008140027567833386e+02 + s * (1.08635005541779435134e+02 + s * (6.57024977031928170135e+00 + s * -6.04244152148580987438e-02)))))));
    } else {
        r = -9.86494292470009928597e-03 + s * (-7.99283237680523006574e-01 + s * (-1.77579549177547519889e+01 + s * (-1.60636384855821916062e+02 + s * (-6.37566443368389627722e+02 + s * (-1.02509513161107724954e+03 + s * -4.83519191608651397019e+02)))));
        q = 1.0 + s * (3.03380607434824582924e+01 + s * (3.25792512996573918826e+02 + s * (1.53672958608443695994e+03 + s * (3.19985821950859553908e+03 + s * (2.55305040643316442583e+03 + s * (4.74528541206955367215e+02 + s * -2.24409524465858183362e+01))))));
    }
    // exp(-ax²) is evaluated as exp(-z² - 0.5625)·exp((z - ax)(z + ax) + r/q)
    // with z = ax rounded to 12 significant bits, so z² is exact.
    let z = bitcast<f32>(bitcast<u32>(ax) & 0xfffff000u);
    let e = exp(-z * z - 0.5625) * exp((z - ax) * (z + ax) + r / q) / ax;
    let v = 1.0 - e;
    return select(-v, v, x >= 0.0);
}

fn sigmoid_f32(x: f32) -> f32 {
    // Written to avoid exp overflow for large |x|.
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

fn tanh_f32(x: f32) -> f32 {
    // tanh(x) = 1 - 2/(exp(2x)+1), clamped so exp cannot overflow.
    let ax = min(abs(x), 20.0);
    var t: f32;
    if (ax < 0.4) {
        // Taylor series: avoids the cancellation of the exp form near 0.
        let z = ax * ax;
        t = ax * (1.0 + z * (-0.33333333333 + z * (0.13333333333 + z * (-0.053968253968 + z * (0.021869488536 + z * (-0.0088632355299 + z * (0.0035921280366 + z * -0.0014558343870)))))));
    } else {
        t = 1.0 - 2.0 / (exp(2.0 * ax) + 1.0);
    }
    return select(-t, t, x >= 0.0);
}

fn act_f(f: u32, x: f32) -> f32 {
    switch f {
        case 0u: { return 0.5 * x * (1.0 + erf_f32(x * INV_SQRT2)); }
        case 1u: { return 0.5 * x * (1.0 + tanh_f32(SQRT_2_OVER_PI * (x + GELU_C * x * x * x))); }
        case 2u: { return max(x, 0.0); }
        case 3u: { return x * sigmoid_f32(x); }
        case 4u: { return tanh_f32(x); }
        case 5u: { return sigmoid_f32(x); }
        default: { return log(x); }
    }
}

fn act_df(f: u32, x: f32) -> f32 {
    switch f {
        case 0u: {
            return 0.5 * (1.0 + erf_f32(x * INV_SQRT2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
        }
        case 1u: {
            let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
            let t = tanh_f32(u);
            let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x);
            return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du;
        }
        case 2u: { return select(0.0, 1.0, x > 0.0); }
        case 3u: {
            let s = sigmoid_f32(x);
            return s * (1.0 + x * (1.0 - s));
        }
        case 4u: {
            let t = tanh_f32(x);
            return 1.0 - t * t;
        }
        case 5u: {
            let s = sigmoid_f32(x);
            return s * (1.0 - s);
        }
        default: { return 1.0 / x; }
    }
}

@compute @workgroup_size(256)
fn act(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    act_out[i] = act_f(actp.f, act_x[i]);
}

@compute @workgroup_size(256)
fn act_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    act_out[i] = act_y[i] * act_df(actp.f, act_x[i]);
}

@compute @workgroup_size(256)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    let g = act_x[i];
    act_out[i] = g * sigmoid_f32(g) * act_y[i];
}

@compute @workgroup_size(256)
fn swiglu_dgate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    let g = act_x[i];
    let s = sigmoid_f32(g);
    act_out[i] = act_dy[i] * act_y[i] * s * (1.0 + g * (1.0 - s));
}

@compute @workgroup_size(256)
fn swiglu_dup(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    let g = act_x[i];
    act_out[i] = act_dy[i] * g * sigmoid_f32(g);
}

// act_f4 and act_df4 apply act_f and act_df to each component.
fn act_f4(f: u32, x: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(act_f(f, x.x), act_f(f, x.y), act_f(f, x.z), act_f(f, x.w));
}

fn act_df4(f: u32, x: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(act_df(f, x.x), act_df(f, x.y), act_df(f, x.z), act_df(f, x.w));
}

fn sigmoid4(x: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(sigmoid_f32(x.x), sigmoid_f32(x.y), sigmoid_f32(x.z), sigmoid_f32(x.w));
}

@compute @workgroup_size(256)
fn act4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    act_out4[i] = act_f4(actp.f, act_x4[i]);
}

@compute @workgroup_size(256)
fn act_grad4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    act_out4[i] = act_y4[i] * act_df4(actp.f, act_x4[i]);
}

@compute @workgroup_size(256)
fn swiglu4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    let g = act_x4[i];
    act_out4[i] = g * sigmoid4(g) * act_y4[i];
}

@compute @workgroup_size(256)
fn swiglu_dgate4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    let g = act_x4[i];
    let s = sigmoid4(g);
    act_out4[i] = act_dy4[i] * act_y4[i] * s * (1.0 + g * (1.0 - s));
}

@compute @workgroup_size(256)
fn swiglu_dup4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 256u);
    if (i >= actp.n) {
        return;
    }
    let g = act_x4[i];
    act_out4[i] = act_dy4[i] * g * sigmoid4(g);
}
