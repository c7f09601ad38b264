package hub

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ia3/ia3/internal/atomicfile"
)

// repoCache is one repo's folder in the cache, and how to reach the Hub.
type repoCache struct {
	s    settings
	repo RepoID
	dir  string // <cache>/models--org--name
	// symlink creates links; os.Symlink except in tests of the copy
	// fallback.
	symlink func(oldname, newname string) error
}

// newRepoCache returns the cache of repo under s.CacheDir.
func newRepoCache(s settings, repo RepoID) *repoCache {
	return &repoCache{s: s, repo: repo, dir: filepath.Join(s.CacheDir, repo.folderName()), symlink: os.Symlink}
}

// pointerPath is snapshots/<commit>/<file>.
func (c *repoCache) pointerPath(commit, file string) string {
	return filepath.Join(c.dir, "snapshots", commit, filepath.FromSlash(file))
}

// noExistPath is .no_exist/<commit>/<file>.
func (c *repoCache) noExistPath(commit, file string) string {
	return filepath.Join(c.dir, ".no_exist", commit, filepath.FromSlash(file))
}

// blobPath is blobs/<etag>.
func (c *repoCache) blobPath(etag string) string { return filepath.Join(c.dir, "blobs", etag) }

// lockPath is <cache>/.locks/models--org--name/<etag>.lock, where
// huggingface_hub takes its lock.
func (c *repoCache) lockPath(etag string) string {
	return filepath.Join(c.s.CacheDir, ".locks", c.repo.folderName(), etag+".lock")
}

// readRef returns the commit refs/<revision> names, or "" when the cache
// has no such ref.
func (c *repoCache) readRef(revision string) (string, error) {
	p := filepath.Join(c.dir, "refs", filepath.FromSlash(revision))
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("hub cache ref %s: %w", p, err)
	}
	commit := strings.TrimSpace(string(data))
	if !commitHash.MatchString(commit) {
		return "", fmt.Errorf("hub cache ref %s: %q is not a commit hash", p, commit)
	}
	return commit, nil
}

// writeRef records that revision points at commit, unless it already
// does.
func (c *repoCache) writeRef(revision, commit string) error {
	if revision == commit {
		return nil
	}
	if old, err := c.readRef(revision); err == nil && old == commit {
		return nil
	}
	p := filepath.Join(c.dir, "refs", filepath.FromSlash(revision))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("hub cache ref %s: %w", p, err)
	}
	if err := atomicfile.WriteFile(p, []byte(commit)); err != nil {
		return fmt.Errorf("hub cache ref %s: %w", p, err)
	}
	return nil
}

// markMissing writes the empty .no_exist marker huggingface_hub writes
// for a file the commit lacks.
func (c *repoCache) markMissing(commit, file string) error {
	p := c.noExistPath(commit, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("hub cache marker %s: %w", p, err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("hub cache marker %s: %w", p, err)
	}
	return f.Close()
}

// link makes pointer a relative symlink to blob (../../blobs/<etag> for
// a file at the snapshot's top), replacing whatever is there atomically.
// Where symlinks fail (Windows without developer mode, some network file
// systems) it copies the blob, as huggingface_hub falls back to.
func (c *repoCache) link(blob, pointer string) error {
	dir := filepath.Dir(pointer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hub cache snapshot %s: %w", dir, err)
	}
	rel, err := filepath.Rel(dir, blob)
	if err != nil {
		return fmt.Errorf("hub cache link %s: %w", pointer, err)
	}
	tmp, err := os.CreateTemp(dir, ".link-*")
	if err != nil {
		return fmt.Errorf("hub cache link %s: %w", pointer, err)
	}
	name := tmp.Name()
	_ = tmp.Close()
	_ = os.Remove(name)
	if err := c.symlink(rel, name); err != nil {
		if err := copyFile(blob, name); err != nil {
			_ = os.Remove(name)
			return fmt.Errorf("hub cache copy %s to %s (symlinks failed): %w", blob, pointer, err)
		}
	}
	if err := os.Rename(name, pointer); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("hub cache link %s: %w", pointer, err)
	}
	return nil
}

// copyFile copies src to a new file dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// exists reports whether path names a file (following symlinks: a
// dangling link does not count).
func exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
