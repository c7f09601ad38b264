package safetensors

// Reader is the read interface shared by a single File and a sharded
// Checkpoint, so that model loaders need not care which they were given.
type Reader interface {
	// Names returns every tensor name, sorted.
	Names() []string
	// Info returns the tensor's dtype, shape and byte range.
	Info(name string) (TensorInfo, bool)
	// Bytes returns a copy of the tensor's raw little-endian bytes.
	Bytes(name string) ([]byte, error)
	// Float32 returns a floating tensor widened or rounded to float32.
	Float32(name string) ([]float32, error)
	// Int64 returns an integer or bool tensor as int64.
	Int64(name string) ([]int64, error)
	// Int32 returns an integer or bool tensor as int32, range-checked.
	Int32(name string) ([]int32, error)
	// Metadata returns the string metadata.
	Metadata() map[string]string
	// Close releases the underlying files.
	Close() error
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Checkpoint)(nil)
)
