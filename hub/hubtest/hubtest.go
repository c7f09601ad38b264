// Package hubtest serves a fake Hugging Face Hub for tests: the resolve
// endpoint answering HEAD and GET as huggingface.co does (X-Repo-Commit,
// ETag or X-Linked-Etag and X-Linked-Size, a redirect to a CDN for LFS
// files, X-Error-Code on errors), and a CDN honouring Range requests, with
// switches for the failures a client must survive. It never touches the
// network beyond the loopback httptest servers.
package hubtest

import (
	"crypto/sha1" //nolint:gosec // git's blob hash
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// LFSThreshold is the size from which a file is served as an LFS file
// (sha256 etag, redirect to the CDN); the Hub uses 10 MB, tests less.
const LFSThreshold = 1024

// Server is a fake Hub and its CDN.
type Server struct {
	// Hub is the resolve endpoint: set HF_ENDPOINT to Hub.URL.
	Hub *httptest.Server
	// CDN serves LFS blobs by sha256.
	CDN *httptest.Server

	mu    sync.Mutex
	repos map[string]*Repo
	blobs map[string][]byte // by sha256 hex
	// Token, when set, is required (Authorization: Bearer) for every repo.
	token string
	// gated repos answer 403 without the token.
	gated map[string]bool
	// renamed maps an old "org/name" to its new one (a relative redirect).
	renamed map[string]string
	// dropAfter makes the CDN close the connection after n bytes of a
	// blob's first full GET.
	dropAfter map[string]int
	// stall makes a dropAfter blob stop sending (without closing) instead.
	stall map[string]bool
	// ignoreRange makes the CDN answer every Range request with 200 and
	// the whole blob.
	ignoreRange bool
	// corrupt makes the CDN send blobs with the first byte flipped.
	corrupt bool
	// relativeCDN makes the Hub redirect LFS files with a relative
	// Location (the CDN on the Hub's own host).
	relativeCDN bool
	log         []string
}

// Repo is one repository: revisions (branches, tags) to commits, and
// each commit's files.
type Repo struct {
	Refs    map[string]string            // revision -> commit
	Commits map[string]map[string][]byte // commit -> file -> bytes
}

// New starts a fake Hub; it is closed with t's cleanup.
func New(t testing.TB) *Server {
	s := &Server{repos: map[string]*Repo{}, blobs: map[string][]byte{}, gated: map[string]bool{},
		renamed: map[string]string{}, dropAfter: map[string]int{}, stall: map[string]bool{}}
	s.CDN = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveBlob(w, r, true) }))
	mux := http.NewServeMux()
	mux.HandleFunc("/{org}/{name}/resolve/{rev}/{file...}", s.serveResolve)
	mux.HandleFunc("/cdn/blobs/{sha}", func(w http.ResponseWriter, r *http.Request) { s.serveBlob(w, r, false) })
	s.Hub = httptest.NewServer(mux)
	t.Cleanup(func() { s.Close() })
	return s
}

// Close stops both servers (a second call does nothing).
func (s *Server) Close() {
	s.Hub.Close()
	s.CDN.Close()
}

// AddRepo adds repo "org/name" with one commit holding files, reachable
// as "main" and as each extra ref given.
func (s *Server) AddRepo(repo, commit string, files map[string][]byte, refs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repo]
	if r == nil {
		r = &Repo{Refs: map[string]string{}, Commits: map[string]map[string][]byte{}}
		s.repos[repo] = r
	}
	r.Commits[commit] = files
	for _, ref := range append([]string{"main"}, refs...) {
		r.Refs[ref] = commit
	}
	for _, data := range files {
		if len(data) >= LFSThreshold {
			sum := sha256.Sum256(data)
			s.blobs[hex.EncodeToString(sum[:])] = data
		}
	}
}

// AddDir adds repo with the regular files of dir at its top (for a
// fixture model).
func (s *Server) AddDir(t testing.TB, repo, commit, dir string, refs ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("hubtest: %v", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatalf("hubtest: %v", err)
			}
			files[e.Name()] = data
		}
	}
	s.AddRepo(repo, commit, files, refs...)
}

// RequireToken makes every repo require token; gated repos answer 403
// instead of 401 without it.
func (s *Server) RequireToken(token string, gated ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
	for _, g := range gated {
		s.gated[g] = true
	}
}

// Rename makes old answer with a relative redirect to repo.
func (s *Server) Rename(old, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renamed[old] = repo
}

// DropAfter makes the CDN cut the first full GET of data after n bytes.
func (s *Server) DropAfter(data []byte, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(data)
	s.dropAfter[hex.EncodeToString(sum[:])] = n
}

// StallAfter makes the CDN stop sending the first full GET of data after
// n bytes, keeping the connection open until the client gives up.
func (s *Server) StallAfter(data []byte, n int) {
	s.DropAfter(data, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall[SHA256(data)] = true
}

// IgnoreRange makes the CDN answer Range requests with the whole blob.
func (s *Server) IgnoreRange() { s.mu.Lock(); s.ignoreRange = true; s.mu.Unlock() }

// Corrupt makes the CDN send wrong bytes.
func (s *Server) Corrupt() { s.mu.Lock(); s.corrupt = true; s.mu.Unlock() }

// RelativeCDN makes LFS redirects relative (/cdn/blobs/SHA on the Hub).
func (s *Server) RelativeCDN() { s.mu.Lock(); s.relativeCDN = true; s.mu.Unlock() }

// Log returns the requests served so far, as "METHOD PATH [RANGE]".
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// GitBlobSHA is the git object id of data, the ETag of a small file.
func GitBlobSHA(data []byte) string {
	h := sha1.New() //nolint:gosec // git's hash
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// SHA256 is the sha256 of data, the etag of an LFS file.
func SHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// record appends a request to the log.
func (s *Server) record(r *http.Request) {
	entry := r.Method + " " + r.URL.Path
	if rg := r.Header.Get("Range"); rg != "" {
		entry += " " + rg
	}
	s.mu.Lock()
	s.log = append(s.log, entry)
	s.mu.Unlock()
}

// fail answers an error the way the Hub does.
func fail(w http.ResponseWriter, status int, code, msg, commit string) {
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", msg)
	if commit != "" {
		w.Header().Set("X-Repo-Commit", commit)
	}
	w.WriteHeader(status)
}

// serveResolve answers /{org}/{name}/resolve/{rev}/{file}.
func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	repoID := r.PathValue("org") + "/" + r.PathValue("name")
	rev, file := r.PathValue("rev"), r.PathValue("file")
	s.mu.Lock()
	defer s.mu.Unlock()
	if to, ok := s.renamed[repoID]; ok {
		w.Header().Set("Location", "/"+to+strings.TrimPrefix(r.URL.EscapedPath(), "/"+repoID))
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
		if s.gated[repoID] {
			fail(w, http.StatusForbidden, "GatedRepo", "Access to model "+repoID+" is restricted.", "")
			return
		}
		fail(w, http.StatusUnauthorized, "RepoNotFound", "Invalid credentials in Authorization header", "")
		return
	}
	repo := s.repos[repoID]
	if repo == nil {
		fail(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found", "")
		return
	}
	commit := rev
	if c, ok := repo.Refs[rev]; ok {
		commit = c
	}
	files, ok := repo.Commits[commit]
	if !ok {
		fail(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev, "")
		return
	}
	data, ok := files[file]
	if !ok {
		fail(w, http.StatusNotFound, "EntryNotFound", "Entry not found", commit)
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	if len(data) >= LFSThreshold {
		sha := SHA256(data)
		w.Header().Set("X-Linked-Etag", `"`+sha+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		w.Header().Set("ETag", `"`+GitBlobSHA([]byte("pointer "+sha))+`"`)
		loc := s.CDN.URL + "/blobs/" + sha
		if s.relativeCDN {
			loc = "/cdn/blobs/" + sha
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+GitBlobSHA(data)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(data)
	}
}

// serveBlob is the CDN: /blobs/{sha} (or /cdn/blobs/{sha} on the Hub)
// with Range support and the configured failures. The CDN proper (cdn
// true) refuses a request carrying a token: the Hub's token must not
// leave the Hub's host.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, cdn bool) {
	s.record(r)
	sha := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	s.mu.Lock()
	data, ok := s.blobs[sha]
	drop, dropping := s.dropAfter[sha]
	stall := s.stall[sha]
	rangeHdr := r.Header.Get("Range")
	if dropping && rangeHdr == "" {
		delete(s.dropAfter, sha)
	} else {
		dropping = false
	}
	ignoreRange, corrupt := s.ignoreRange, s.corrupt
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if cdn && r.Header.Get("Authorization") != "" {
		http.Error(w, "the CDN must not get the Hub token", http.StatusBadRequest)
		return
	}
	if corrupt {
		data = append([]byte{data[0] ^ 0xff}, data[1:]...)
	}
	w.Header().Set("ETag", `"`+sha+`"`)
	start := 0
	if rest, ok := strings.CutPrefix(rangeHdr, "bytes="); ok && !ignoreRange {
		from, _, _ := strings.Cut(rest, "-")
		n, err := strconv.Atoi(from)
		if err != nil || n >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)-start))
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		return
	}
	if dropping {
		_, _ = w.Write(data[:drop])
		w.(http.Flusher).Flush()
		if stall {
			<-r.Context().Done() // the client's timeout ends the request
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	_, _ = w.Write(data[start:])
}
