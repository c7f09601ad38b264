package hub

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/hub/hubtest"
)

const (
	commitA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	commitB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// bigFile returns n deterministic bytes, above the fake Hub's LFS size.
func bigFile(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// modelFiles is a small model repo: a config, LFS weights, a tokenizer.
func modelFiles(seed byte) map[string][]byte {
	return map[string][]byte{
		"config.json":        []byte(`{"model_type":"gpt2","seed":` + string('0'+seed) + `}`),
		"model.safetensors":  bigFile(5000, seed),
		"tokenizer.json":     []byte(`{"model":{}}`),
		"chat_template.json": []byte(`{"chat_template":"{{ messages }}"}`),
		"README.md":          []byte("not fetched"),
	}
}

// env returns a Getenv reading only m, so a test never sees the user's
// HF_TOKEN or cache.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// opts returns Options for srv with a fresh cache.
func opts(t *testing.T, srv *hubtest.Server) Options {
	return Options{Getenv: env(map[string]string{"HF_ENDPOINT": srv.Hub.URL, "HF_HUB_CACHE": t.TempDir()})}
}

// readSnapshotFile reads file in dir.
func readSnapshotFile(t *testing.T, dir, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	require.NoError(t, err)
	return b
}

func TestParseRepoID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RepoID
		err  string
	}{
		{"Qwen/Qwen2.5-0.5B", RepoID{"Qwen", "Qwen2.5-0.5B", ""}, ""},
		{"org/name@v1.0", RepoID{"org", "name", "v1.0"}, ""},
		{"org/name@refs/pr/1", RepoID{"org", "name", "refs/pr/1"}, ""},
		{"org/name@" + commitA, RepoID{"org", "name", commitA}, ""},
		{"gpt2", RepoID{}, "want org/name"},
		{"a/b/c", RepoID{}, "want org/name"},
		{"org/name@", RepoID{}, "bad revision"},
		{"org/name@../x", RepoID{}, "bad revision"},
		{"org/na--me", RepoID{}, "not a valid Hub name"},
		{"org/-name", RepoID{}, "not a valid Hub name"},
		{"org/name.", RepoID{}, "not a valid Hub name"},
		{"org/na me", RepoID{}, "not a valid Hub name"},
		{"/name", RepoID{}, "not a valid Hub name"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRepoID(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestIsRepoID(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(dir, "org", "name")
	require.NoError(t, os.MkdirAll(local, 0o755))
	t.Chdir(dir)
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Qwen/Qwen2.5-0.5B", true},
		{"org/other@main", true},
		{"org/name", false}, // an existing local directory wins
		{"./org/x", false},
		{"/abs/path", false},
		{"~/models/x", false},
		{"a/b/c", false},
		{"gpt2", false},
	} {
		assert.Equal(t, tc.want, IsRepoID(tc.in), tc.in)
	}
}

func TestCacheDirFromEnv(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HF_HUB_CACHE": "/c", "HF_HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/c"},
		{map[string]string{"HF_HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/h/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/x"}, "/x/huggingface/hub"},
		{map[string]string{}, "/home/u/.cache/huggingface/hub"},
		{map[string]string{"HF_HOME": "~/hf"}, "/home/u/hf/hub"},
	} {
		got, err := cacheDir(env(tc.env), home)
		require.NoError(t, err)
		assert.Equal(t, filepath.FromSlash(tc.want), got, "%v", tc.env)
	}
}

func TestTokenFromEnv(t *testing.T) {
	dir := t.TempDir()
	home := func() (string, error) { return dir, nil }
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("hf_home\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other"), []byte(" hf_path \n"), 0o600))
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HF_TOKEN": "hf_env", "HF_TOKEN_PATH": filepath.Join(dir, "other"), "HF_HOME": dir}, "hf_env"},
		{map[string]string{"HF_TOKEN_PATH": filepath.Join(dir, "other"), "HF_HOME": dir}, "hf_path"},
		{map[string]string{"HF_HOME": dir}, "hf_home"},
		{map[string]string{"HF_HOME": filepath.Join(dir, "none")}, ""},
	} {
		got, err := token(env(tc.env), home)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%v", tc.env)
	}
}

// TestSnapshotLayout checks the cache layout against huggingface_hub's:
// refs/main holds the commit, snapshot files are relative symlinks into
// blobs named by etag (sha256 for LFS, git blob id otherwise), files the
// repo lacks get .no_exist markers, and files a run does not need are not
// fetched.
func TestSnapshotLayout(t *testing.T) {
	srv := hubtest.New(t)
	files := modelFiles(1)
	srv.AddRepo("org/model", commitA, files)
	o := opts(t, srv)
	var reports []Progress
	o.Progress = func(p Progress) { reports = append(reports, p) }
	dir, err := Snapshot(context.Background(), "org/model", o)
	require.NoError(t, err)
	cache := o.Getenv("HF_HUB_CACHE")
	repoDir := filepath.Join(cache, "models--org--model")
	assert.Equal(t, filepath.Join(repoDir, "snapshots", commitA), dir)
	ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main"))
	require.NoError(t, err)
	assert.Equal(t, commitA, string(ref))
	for name, etag := range map[string]string{
		"config.json":        hubtest.GitBlobSHA(files["config.json"]),
		"model.safetensors":  hubtest.SHA256(files["model.safetensors"]),
		"tokenizer.json":     hubtest.GitBlobSHA(files["tokenizer.json"]),
		"chat_template.json": hubtest.GitBlobSHA(files["chat_template.json"]),
	} {
		target, err := os.Readlink(filepath.Join(dir, name))
		require.NoError(t, err, name)
		assert.Equal(t, filepath.Join("..", "..", "blobs", etag), target, name)
		assert.Equal(t, files[name], readSnapshotFile(t, dir, name), name)
	}
	assert.NoFileExists(t, filepath.Join(dir, "README.md"))
	for _, missing := range []string{"generation_config.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "spm.model", "spiece.model", "chat_template.jinja"} {
		assert.FileExists(t, filepath.Join(repoDir, ".no_exist", commitA, missing))
	}
	// model.safetensors exists, so no other weights are asked for.
	for _, line := range srv.Log() {
		assert.NotContains(t, line, "pytorch_model")
		assert.NotContains(t, line, "index.json")
	}
	var last Progress
	for _, p := range reports {
		if p.File == "model.safetensors" {
			last = p
		}
	}
	assert.True(t, last.Finished)
	assert.Equal(t, int64(len(files["model.safetensors"])), last.Total)
	assert.Equal(t, "org/model", last.Repo)
	entries, err := os.ReadDir(filepath.Join(repoDir, "blobs"))
	require.NoError(t, err)
	assert.Len(t, entries, 4, "no .incomplete left")

	// A second call downloads nothing: one HEAD for the branch, the
	// others answered by the snapshot and .no_exist of that commit.
	before := len(srv.Log())
	dir2, err := Snapshot(context.Background(), "org/model", o)
	require.NoError(t, err)
	assert.Equal(t, dir, dir2)
	assert.Equal(t, []string{"HEAD /org/model/resolve/main/config.json"}, srv.Log()[before:])
}

// TestSnapshotRevisions resolves a branch, a tag and a commit hash, each
// to its own commit, and writes refs for the names only.
func TestSnapshotRevisions(t *testing.T) {
	srv := hubtest.New(t)
	srv.AddRepo("org/model", commitA, modelFiles(1), "v1")
	srv.AddRepo("org/model", commitB, modelFiles(2), "dev")
	o := opts(t, srv)
	repoDir := filepath.Join(o.Getenv("HF_HUB_CACHE"), "models--org--model")
	for _, tc := range []struct{ id, commit, ref string }{
		{"org/model", commitB, "main"}, // AddRepo moved main to B
		{"org/model@v1", commitA, "v1"},
		{"org/model@dev", commitB, "dev"},
		{"org/model@" + commitA, commitA, ""},
	} {
		t.Run(tc.id, func(t *testing.T) {
			dir, err := Snapshot(context.Background(), tc.id, o)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(repoDir, "snapshots", tc.commit), dir)
			want := modelFiles(2)
			if tc.commit == commitA {
				want = modelFiles(1)
			}
			assert.Equal(t, want["model.safetensors"], readSnapshotFile(t, dir, "model.safetensors"))
			if tc.ref != "" {
				ref, err := os.ReadFile(filepath.Join(repoDir, "refs", tc.ref))
				require.NoError(t, err)
				assert.Equal(t, tc.commit, string(ref))
			}
		})
	}
	assert.NoFileExists(t, filepath.Join(repoDir, "refs", commitA))
	// A cached commit is not asked for again.
	before := len(srv.Log())
	_, err := Snapshot(context.Background(), "org/model@"+commitA, o)
	require.NoError(t, err)
	assert.Empty(t, srv.Log()[before:])
}

// TestSnapshotRedirects follows a renamed repo's relative redirect on
// HEAD, and both absolute and relative redirects to the CDN on GET.
func TestSnapshotRedirects(t *testing.T) {
	for _, relative := range []bool{false, true} {
		t.Run(map[bool]string{false: "absolute CDN", true: "relative CDN"}[relative], func(t *testing.T) {
			srv := hubtest.New(t)
			files := modelFiles(3)
			srv.AddRepo("org/model", commitA, files)
			srv.Rename("old/model", "org/model")
			if relative {
				srv.RelativeCDN()
			}
			o := opts(t, srv)
			o.Token = "hf_secret" // the CDN refuses a request carrying it
			dir, err := Snapshot(context.Background(), "old/model", o)
			require.NoError(t, err)
			assert.Equal(t, files["model.safetensors"], readSnapshotFile(t, dir, "model.safetensors"))
			assert.Contains(t, dir, "models--old--model", "cached under the name asked for, as huggingface_hub does")
		})
	}
}

// TestSnapshotHTTPErrors maps the Hub's error answers.
func TestSnapshotHTTPErrors(t *testing.T) {
	srv := hubtest.New(t)
	srv.AddRepo("org/model", commitA, modelFiles(1))
	srv.AddRepo("org/noweights", commitA, map[string][]byte{"config.json": []byte(`{}`)})
	srv.AddRepo("org/gated", commitA, modelFiles(1))
	srv.RequireToken("hf_good", "org/gated")
	for _, tc := range []struct {
		id, token string
		want      error
		msg       []string
	}{
		{"org/model", "", ErrUnauthorized, []string{"401", "HF_TOKEN", "org/model"}},
		{"org/gated", "hf_bad", ErrUnauthorized, []string{"403", "HF_TOKEN", "gated"}},
		{"org/model@nope", "hf_good", ErrNotFound, []string{"revision nope", "org/model"}},
		{"org/noweights", "hf_good", ErrNotFound, []string{"org/noweights@main", "model.safetensors"}},
		{"org/model", "hf_good", nil, nil},
	} {
		t.Run(tc.id+" "+tc.token, func(t *testing.T) {
			o := opts(t, srv)
			o.Token = tc.token
			_, err := Snapshot(context.Background(), tc.id, o)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			for _, m := range tc.msg {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
	t.Run("adapter without config", func(t *testing.T) {
		o := opts(t, srv)
		o.Token, o.Kind = "hf_good", Adapter
		_, err := Snapshot(context.Background(), "org/model", o)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Contains(t, err.Error(), "adapter_config.json")
	})
}

// TestSnapshotShardsAndBin fetches an index and its shards, falls back
// to pytorch_model.bin without safetensors, and fetches adapters.
func TestSnapshotShardsAndBin(t *testing.T) {
	srv := hubtest.New(t)
	shard1, shard2 := bigFile(3000, 4), bigFile(2000, 5)
	srv.AddRepo("org/sharded", commitA, map[string][]byte{
		"config.json":                      []byte(`{}`),
		"model.safetensors.index.json":     []byte(`{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}`),
		"model-00001-of-00002.safetensors": shard1,
		"model-00002-of-00002.safetensors": shard2,
		"pytorch_model.bin":                bigFile(1500, 6),
	})
	srv.AddRepo("org/bin", commitA, map[string][]byte{"config.json": []byte(`{}`), "pytorch_model.bin": bigFile(1500, 7)})
	srv.AddRepo("org/evil", commitA, map[string][]byte{"config.json": []byte(`{}`),
		"model.safetensors.index.json": []byte(`{"weight_map":{"a":"../../../etc/passwd"}}`)})
	srv.AddRepo("org/adapter", commitA, map[string][]byte{"adapter_config.json": []byte(`{"peft_type":"IA3"}`), "adapter_model.safetensors": bigFile(1200, 8)})
	srv.AddRepo("org/binadapter", commitA, map[string][]byte{"adapter_config.json": []byte(`{"peft_type":"IA3"}`), "adapter_model.bin": []byte("small bin")})
	o := opts(t, srv)

	dir, err := Snapshot(context.Background(), "org/sharded", o)
	require.NoError(t, err)
	assert.Equal(t, shard1, readSnapshotFile(t, dir, "model-00001-of-00002.safetensors"))
	assert.Equal(t, shard2, readSnapshotFile(t, dir, "model-00002-of-00002.safetensors"))
	assert.NoFileExists(t, filepath.Join(dir, "pytorch_model.bin"), "safetensors win")

	// Offline, the cached index names the shards to look for.
	off := o
	off.Offline = true
	offDir, err := Snapshot(context.Background(), "org/sharded", off)
	require.NoError(t, err)
	assert.Equal(t, dir, offDir)
	require.NoError(t, os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors")))
	_, err = Snapshot(context.Background(), "org/sharded", off)
	require.ErrorIs(t, err, ErrNotCached)
	assert.Contains(t, err.Error(), "model-00002-of-00002.safetensors")

	dir, err = Snapshot(context.Background(), "org/bin", o)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "pytorch_model.bin"))

	_, err = Snapshot(context.Background(), "org/evil", o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a file in the repo")

	o.Kind = Adapter
	dir, err = Snapshot(context.Background(), "org/adapter", o)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "adapter_config.json"))
	assert.FileExists(t, filepath.Join(dir, "adapter_model.safetensors"))
	dir, err = Snapshot(context.Background(), "org/binadapter", o)
	require.NoError(t, err)
	assert.Equal(t, []byte("small bin"), readSnapshotFile(t, dir, "adapter_model.bin"))
}

// TestDownloadResume cuts the CDN connection mid-file: the download
// resumes with a Range request and the file is whole; a CDN that ignores
// Range and answers 200 still gives the right bytes.
func TestDownloadResume(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run(map[bool]string{false: "206", true: "200 ignoring Range"}[ignore], func(t *testing.T) {
			srv := hubtest.New(t)
			files := modelFiles(9)
			srv.AddRepo("org/model", commitA, files)
			srv.DropAfter(files["model.safetensors"], 1700)
			if ignore {
				srv.IgnoreRange()
			}
			o := opts(t, srv)
			dir, err := Snapshot(context.Background(), "org/model", o)
			require.NoError(t, err)
			assert.Equal(t, files["model.safetensors"], readSnapshotFile(t, dir, "model.safetensors"))
			assert.Contains(t, srv.Log(), "GET /blobs/"+hubtest.SHA256(files["model.safetensors"])+" bytes=1700-")
		})
	}
}

// TestDownloadStalled gives up on a CDN that stops sending mid-file
// (after HF_HUB_DOWNLOAD_TIMEOUT without a byte) and resumes with a
// Range request.
func TestDownloadStalled(t *testing.T) {
	srv := hubtest.New(t)
	files := modelFiles(15)
	srv.AddRepo("org/model", commitA, files)
	srv.StallAfter(files["model.safetensors"], 1200)
	o := Options{Getenv: env(map[string]string{"HF_ENDPOINT": srv.Hub.URL, "HF_HUB_CACHE": t.TempDir(), "HF_HUB_DOWNLOAD_TIMEOUT": "0.2"})}
	dir, err := Snapshot(context.Background(), "org/model", o)
	require.NoError(t, err)
	assert.Equal(t, files["model.safetensors"], readSnapshotFile(t, dir, "model.safetensors"))
	assert.Contains(t, srv.Log(), "GET /blobs/"+hubtest.SHA256(files["model.safetensors"])+" bytes=1200-")

	o.Getenv = env(map[string]string{"HF_HUB_DOWNLOAD_TIMEOUT": "soon"})
	_, err = Snapshot(context.Background(), "org/model", o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HF_HUB_DOWNLOAD_TIMEOUT")
}

// TestDownloadResumesIncomplete continues a .incomplete file a killed
// process left.
func TestDownloadResumesIncomplete(t *testing.T) {
	srv := hubtest.New(t)
	files := modelFiles(10)
	srv.AddRepo("org/model", commitA, files)
	o := opts(t, srv)
	data := files["model.safetensors"]
	blobs := filepath.Join(o.Getenv("HF_HUB_CACHE"), "models--org--model", "blobs")
	require.NoError(t, os.MkdirAll(blobs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(blobs, hubtest.SHA256(data)+".incomplete"), data[:4000], 0o644))
	dir, err := Snapshot(context.Background(), "org/model", o)
	require.NoError(t, err)
	assert.Equal(t, data, readSnapshotFile(t, dir, "model.safetensors"))
	assert.Contains(t, srv.Log(), "GET /blobs/"+hubtest.SHA256(data)+" bytes=4000-")
}

// TestDownloadChecksum refuses bytes that do not hash to the etag and
// leaves nothing in the cache.
func TestDownloadChecksum(t *testing.T) {
	srv := hubtest.New(t)
	srv.AddRepo("org/model", commitA, modelFiles(11))
	srv.Corrupt()
	o := opts(t, srv)
	_, err := Snapshot(context.Background(), "org/model", o)
	require.ErrorIs(t, err, ErrChecksum)
	assert.Contains(t, err.Error(), "model.safetensors")
	entries, err := os.ReadDir(filepath.Join(o.Getenv("HF_HUB_CACHE"), "models--org--model", "blobs"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), hubtest.SHA256(modelFiles(11)["model.safetensors"])), e.Name())
	}
}

// TestSnapshotOffline reads a cache written by an online run with
// HF_HUB_OFFLINE=1 and the server closed, and names what is missing.
func TestSnapshotOffline(t *testing.T) {
	srv := hubtest.New(t)
	srv.AddRepo("org/model", commitA, modelFiles(12), "v1")
	o := opts(t, srv)
	online, err := Snapshot(context.Background(), "org/model", o)
	require.NoError(t, err)
	srv.Close()
	cache := o.Getenv("HF_HUB_CACHE")
	off := Options{Getenv: env(map[string]string{"HF_HUB_CACHE": cache, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:1"})}
	dir, err := Snapshot(context.Background(), "org/model", off)
	require.NoError(t, err)
	assert.Equal(t, online, dir)
	dir, err = Snapshot(context.Background(), "org/model@"+commitA, off)
	require.NoError(t, err)
	assert.Equal(t, online, dir)

	_, err = Snapshot(context.Background(), "org/model@v1", off)
	require.ErrorIs(t, err, ErrNotCached)
	assert.Contains(t, err.Error(), `revision "v1"`)
	assert.Contains(t, err.Error(), "HF_HUB_OFFLINE=1")
	_, err = Snapshot(context.Background(), "org/other", off)
	require.ErrorIs(t, err, ErrNotCached)
	assert.Contains(t, err.Error(), "org/other")
	off.Kind = Adapter
	_, err = Snapshot(context.Background(), "org/model", off)
	require.ErrorIs(t, err, ErrNotCached)
	assert.Contains(t, err.Error(), "adapter_config.json")

	// Online but unreachable: the cache answers, as in huggingface_hub.
	unreachable := Options{Getenv: env(map[string]string{"HF_HUB_CACHE": cache, "HF_ENDPOINT": srv.Hub.URL})}
	dir, err = Snapshot(context.Background(), "org/model", unreachable)
	require.NoError(t, err)
	assert.Equal(t, online, dir)
}

// TestSnapshotPythonCache reads a cache laid out as huggingface_hub
// writes it (refs, relative symlinks into blobs, a nested file) offline.
func TestSnapshotPythonCache(t *testing.T) {
	cache := t.TempDir()
	repoDir := filepath.Join(cache, "models--Qwen--Qwen2.5-0.5B")
	snap := filepath.Join(repoDir, "snapshots", commitB)
	require.NoError(t, os.MkdirAll(filepath.Join(repoDir, "refs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(commitB), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(repoDir, "blobs"), 0o755))
	require.NoError(t, os.MkdirAll(snap, 0o755))
	for name, content := range map[string]string{"config.json": `{"a":1}`, "model.safetensors": "weights", "tokenizer.json": "{}"} {
		etag := hubtest.GitBlobSHA([]byte(content))
		require.NoError(t, os.WriteFile(filepath.Join(repoDir, "blobs", etag), []byte(content), 0o644))
		require.NoError(t, os.Symlink(filepath.Join("..", "..", "blobs", etag), filepath.Join(snap, name)))
	}
	off := Options{Offline: true, CacheDir: cache}
	dir, err := Snapshot(context.Background(), "Qwen/Qwen2.5-0.5B", off)
	require.NoError(t, err)
	assert.Equal(t, snap, dir)
	assert.Equal(t, []byte(`{"a":1}`), readSnapshotFile(t, dir, "config.json"))
}

// TestSymlinkFallback copies blobs into the snapshot where symlinks
// fail.
func TestSymlinkFallback(t *testing.T) {
	srv := hubtest.New(t)
	files := modelFiles(13)
	srv.AddRepo("org/model", commitA, files)
	o := opts(t, srv)
	s, err := o.resolve()
	require.NoError(t, err)
	repo, err := ParseRepoID("org/model")
	require.NoError(t, err)
	repo.Revision = DefaultRevision
	c := newRepoCache(s, repo)
	c.symlink = func(string, string) error { return errors.New("symlinks not supported") }
	sn := &snapshot{c: c, revision: DefaultRevision}
	dir, err := sn.fetchAll(context.Background(), Model)
	require.NoError(t, err)
	st, err := os.Lstat(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	assert.True(t, st.Mode().IsRegular(), "a copy, not a link")
	assert.Equal(t, files["model.safetensors"], readSnapshotFile(t, dir, "model.safetensors"))
}

// TestSnapshotConcurrent runs several Snapshot calls on one repo and
// cache at once: the lock lets one download each blob, all see whole
// files.
func TestSnapshotConcurrent(t *testing.T) {
	srv := hubtest.New(t)
	files := modelFiles(14)
	files["model.safetensors"] = bigFile(300000, 14)
	srv.AddRepo("org/model", commitA, files)
	o := opts(t, srv)
	const n = 6
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = Snapshot(context.Background(), "org/model", o) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, dirs[0], dirs[i])
	}
	assert.True(t, bytes.Equal(files["model.safetensors"], readSnapshotFile(t, dirs[0], "model.safetensors")))
	gets := 0
	for _, l := range srv.Log() {
		if strings.HasPrefix(l, "GET /blobs/") {
			gets++
		}
	}
	assert.Equal(t, 1, gets, "one download of the blob: %v", srv.Log())
}

// TestResolveLocalWins returns an existing directory as is, even when
// it looks like a repo id.
func TestResolveLocalWins(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "org", "model"), 0o755))
	t.Chdir(dir)
	got, err := Resolve(context.Background(), "org/model", Options{Offline: true, CacheDir: t.TempDir()})
	require.NoError(t, err)
	assert.Equal(t, "org/model", got)
	_, err = Resolve(context.Background(), "org/absent", Options{Offline: true, CacheDir: t.TempDir()})
	require.ErrorIs(t, err, ErrNotCached)
}

// TestContextCancelled stops before asking the Hub.
func TestContextCancelled(t *testing.T) {
	srv := hubtest.New(t)
	srv.AddRepo("org/model", commitA, modelFiles(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Snapshot(ctx, "org/model", opts(t, srv))
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, srv.Log())
}

// TestSnapshotSentencePiece fetches the SentencePiece model of a repo that
// ships no tokenizer.json (T5's spiece.model, DeBERTa-v3's spm.model).
func TestSnapshotSentencePiece(t *testing.T) {
	srv := hubtest.New(t)
	for repo, name := range map[string]string{"org/t5": "spiece.model", "org/deberta": "spm.model"} {
		files := modelFiles(1)
		delete(files, "tokenizer.json")
		files[name] = []byte("\x0a\x09\x0a\x05<unk>\x18\x02")
		files["tokenizer_config.json"] = []byte(`{"tokenizer_class":"T5Tokenizer"}`)
		srv.AddRepo(repo, commitA, files)
		dir, err := Snapshot(context.Background(), repo, opts(t, srv))
		require.NoError(t, err, repo)
		assert.Equal(t, files[name], readSnapshotFile(t, dir, name), repo)
		assert.Equal(t, files["tokenizer_config.json"], readSnapshotFile(t, dir, "tokenizer_config.json"), repo)
		assert.NoFileExists(t, filepath.Join(dir, "tokenizer.json"), repo)
	}
}
