//go:build !unix

package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// lockFile takes the lock by creating path exclusively, polling so that
// ctx can cancel the wait, and returns the function that releases it (by
// removing the file). A process that dies holding it leaves the file
// behind; remove it by hand.
func lockFile(ctx context.Context, path string) (func(), error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
		if err == nil {
			_ = f.Close()
			return func() { _ = os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
