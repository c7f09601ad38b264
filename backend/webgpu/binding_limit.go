package webgpu

// BindingLimitEnv names the environment variable that lowers the storage
// binding limit the backend works to below what the adapter reports, in
// bytes (suffixes KiB and MiB accepted). Tests set it to exercise split
// tensors with small shapes; it can only lower the adapter's limit.
const BindingLimitEnv = "IA3_WEBGPU_BINDING_LIMIT"
