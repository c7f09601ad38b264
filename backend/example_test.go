package backend_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu" // registers "cpu"; backend/all registers every device
)

// Open a device by spec, upload two matrices, multiply them on the device
// and download the result. The same code runs on "gpu" or "gpu:N" when
// backend/webgpu is linked in (import backend/all).
func ExampleOpen() {
	ctx := context.Background()
	b, err := backend.Open(ctx, "cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	x, err := b.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3) // [2, 3]
	if err != nil {
		log.Fatal(err)
	}
	defer b.Free(x)
	w, err := b.FromFloat32([]float32{1, 0, 0, 1, 1, 1}, 3, 2) // [3, 2]
	if err != nil {
		log.Fatal(err)
	}
	defer b.Free(w)

	y, err := b.MatMul(x, w, backend.MatMulOptions{}) // [2, 2]
	if err != nil {
		log.Fatal(err)
	}
	defer b.Free(y)
	out, err := b.ToFloat32(y)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(y.Shape(), out)

	// A malformed call is an error naming the shapes, never a panic.
	_, err = b.MatMul(x, x, backend.MatMulOptions{})
	fmt.Println(err != nil)
	// Output:
	// [2 2] [4 5 10 11]
	// true
}
