package hub

import (
	"context"
	"crypto/sha1" //nolint:gosec // git's blob hash, an integrity check, not security
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Response headers the Hub sends, as huggingface_hub reads them.
const (
	headerRepoCommit  = "X-Repo-Commit"
	headerLinkedEtag  = "X-Linked-Etag"
	headerLinkedSize  = "X-Linked-Size"
	headerErrorCode   = "X-Error-Code"
	headerErrorMsg    = "X-Error-Message"
	maxRedirects      = 10
	maxAttempts       = 5
	userAgent         = "ia3-hub/1 (huggingface_hub-compatible)"
	errBodyPeekLength = 512
)

// sha256Hex matches an LFS etag, the sha256 of the file.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// metadata is what a HEAD on the resolve endpoint says about a file.
type metadata struct {
	commit   string // X-Repo-Commit
	etag     string // X-Linked-Etag, else ETag, without W/ and quotes
	size     int64  // X-Linked-Size, else Content-Length; -1 when unknown
	location string // where to GET the bytes: the redirect target or the resolve URL
}

// fileURL is {endpoint}/{org}/{name}/resolve/{revision}/{file}, with the
// revision escaped whole and the file escaped segment by segment.
func (c *repoCache) fileURL(revision, file string) string {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.s.Endpoint + "/" + c.repo.Org + "/" + c.repo.Name + "/resolve/" + url.PathEscape(revision) + "/" + strings.Join(segs, "/")
}

// newRequest builds a request with the headers huggingface_hub sends;
// the token goes to the endpoint's host only, never to a CDN.
func (c *repoCache) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub request %s: %w", u, err)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", "identity")
	if c.s.Token != "" {
		if ep, err := url.Parse(c.s.Endpoint); err == nil && ep.Host == req.URL.Host {
			req.Header.Set("Authorization", "Bearer "+c.s.Token)
		}
	}
	return req, nil
}

// head asks the Hub about file at revision: a HEAD without following
// redirects, except relative ones (a renamed repo), so that the headers
// come from the Hub and not from the CDN a large file redirects to.
func (c *repoCache) head(ctx context.Context, revision, file string) (metadata, error) {
	client := *c.s.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u := c.fileURL(revision, file)
	ctx, cancel := context.WithTimeout(ctx, c.s.etagTimeout)
	defer cancel()
	for hop := 0; ; hop++ {
		req, err := c.newRequest(ctx, http.MethodHead, u)
		if err != nil {
			return metadata{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return metadata{}, fmt.Errorf("hub %s@%s %s: %w", c.repo, revision, file, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc := resp.Header.Get("Location")
			target, err := url.Parse(loc)
			if err != nil || loc == "" {
				return metadata{}, fmt.Errorf("hub %s@%s %s: redirect with bad Location %q", c.repo, revision, file, loc)
			}
			abs := resp.Request.URL.ResolveReference(target).String()
			// A relative redirect without the file's headers is a renamed
			// repo: follow it, as huggingface_hub does. One carrying
			// X-Repo-Commit is the file's own redirect to its bytes (a CDN
			// on the same host): its headers are the answer.
			if target.Host == "" && resp.Header.Get(headerRepoCommit) == "" && hop < maxRedirects {
				u = abs
				continue
			}
			return c.metadataFrom(resp, revision, file, abs)
		}
		if resp.StatusCode >= 400 {
			return metadata{}, c.statusError(resp, revision, file)
		}
		return c.metadataFrom(resp, revision, file, u)
	}
}

// metadataFrom reads the file's commit, etag and size from a HEAD answer.
func (c *repoCache) metadataFrom(resp *http.Response, revision, file, location string) (metadata, error) {
	md := metadata{commit: resp.Header.Get(headerRepoCommit), location: location, size: -1}
	md.etag = resp.Header.Get(headerLinkedEtag)
	if md.etag == "" {
		md.etag = resp.Header.Get("ETag")
	}
	md.etag = normalizeEtag(md.etag)
	size := resp.Header.Get(headerLinkedSize)
	if size == "" {
		size = resp.Header.Get("Content-Length")
	}
	if size != "" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 {
			return metadata{}, fmt.Errorf("hub %s@%s %s: bad file size %q", c.repo, revision, file, size)
		}
		md.size = n
	}
	if !commitHash.MatchString(md.commit) {
		return metadata{}, fmt.Errorf("hub %s@%s %s: the server sent no commit hash (%s %q): is HF_ENDPOINT a Hub?", c.repo, revision, file, headerRepoCommit, md.commit)
	}
	if md.etag == "" || strings.ContainsAny(md.etag, `/\`) || md.etag == "." || md.etag == ".." {
		return metadata{}, fmt.Errorf("hub %s@%s %s: the server sent no usable ETag (%q)", c.repo, revision, file, md.etag)
	}
	return md, nil
}

// normalizeEtag strips a weak marker and quotes, as huggingface_hub does.
func normalizeEtag(e string) string {
	e = strings.TrimPrefix(strings.TrimSpace(e), "W/")
	return strings.Trim(e, `"`)
}

// statusError turns an error answer into ErrUnauthorized, ErrNotFound or
// a plain error naming the repo, revision and file.
func (c *repoCache) statusError(resp *http.Response, revision, file string) error {
	code := resp.Header.Get(headerErrorCode)
	msg := resp.Header.Get(headerErrorMsg)
	if msg == "" && resp.Request != nil && resp.Request.Method != http.MethodHead {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyPeekLength))
		msg = strings.TrimSpace(string(b))
	}
	if msg != "" {
		msg = " (" + msg + ")"
	}
	where := fmt.Sprintf("%s@%s %s", c.repo, revision, file)
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &httpError{sentinel: ErrUnauthorized, code: code,
			msg: fmt.Sprintf("hub %s: %s%s: %v; for a gated or private repo accept its terms on the Hub and set HF_TOKEN (or log in with `hf auth login`)", where, resp.Status, msg, ErrUnauthorized)}
	case http.StatusNotFound:
		what := "file"
		switch code {
		case "RepoNotFound":
			what = "repo"
		case "RevisionNotFound":
			what = "revision"
		}
		return &httpError{sentinel: ErrNotFound, code: code, commit: resp.Header.Get(headerRepoCommit),
			msg: fmt.Sprintf("hub %s: %s%s: %v (%s %s, revision %s, file %s)", where, resp.Status, msg, ErrNotFound, what, c.repo, revision, file)}
	}
	return &httpError{msg: fmt.Sprintf("hub %s: %s%s", where, resp.Status, msg), code: code}
}

// download fetches md's bytes into blobs/<etag> under the shared lock:
// into blobs/<etag>.incomplete, resuming with a Range request after a
// dropped connection (and starting over when the server ignores the
// range), then checked and renamed into place.
func (c *repoCache) download(ctx context.Context, md metadata, revision, file string) (string, error) {
	blob := c.blobPath(md.etag)
	lock := c.lockPath(md.etag)
	for _, d := range []string{filepath.Dir(blob), filepath.Dir(lock)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("hub cache %s: %w", d, err)
		}
	}
	unlock, err := lockFile(ctx, lock)
	if err != nil {
		return "", err
	}
	defer unlock()
	if exists(blob) { // another process finished it while we waited
		return blob, nil
	}
	tmp := blob + ".incomplete"
	var lastErr error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		done, err := c.getOnce(ctx, md, tmp, revision, file)
		if err == nil && (md.size < 0 || done == md.size) {
			lastErr = nil
			break
		}
		if err == nil {
			err = fmt.Errorf("hub %s@%s %s: connection closed after %d of %d bytes", c.repo, revision, file, done, md.size)
		}
		lastErr = err
		var he *httpError
		if ctx.Err() != nil || errors.As(err, &he) || errors.Is(err, errLocal) {
			return "", err
		}
	}
	if lastErr != nil {
		return "", fmt.Errorf("%w (gave up after %d tries; the partial file %s resumes next time)", lastErr, maxAttempts, tmp)
	}
	if err := c.verify(tmp, md, revision, file); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, blob); err != nil {
		return "", fmt.Errorf("hub cache %s: %w", blob, err)
	}
	size := md.size
	if st, err := os.Stat(blob); err == nil {
		size = st.Size()
	}
	c.report(file, size, size, true)
	return blob, nil
}

// errLocal marks a failure on this machine (a write to the cache), which
// retrying the request does not mend.
var errLocal = errors.New("local cache error")

// getOnce sends one GET for the bytes tmp lacks and appends them; it
// returns how many bytes tmp holds afterwards.
func (c *repoCache) getOnce(ctx context.Context, md metadata, tmp, revision, file string) (int64, error) {
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return 0, fmt.Errorf("hub cache %s: %w: %w", tmp, errLocal, err)
	}
	defer func() { _ = f.Close() }()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("hub cache %s: %w: %w", tmp, errLocal, err)
	}
	if md.size >= 0 && have > md.size { // not the file we are fetching
		have = 0
	}
	if md.size >= 0 && have == md.size && have > 0 {
		return have, nil
	}
	// A watchdog cancels the request when no byte arrives for
	// downloadTimeout; the caller then resumes where it stopped.
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(c.s.downloadTimeout, cancel)
	defer watchdog.Stop()
	req, err := c.newRequest(reqCtx, http.MethodGet, md.location)
	if err != nil {
		return 0, err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := c.s.Client.Do(req)
	if err != nil {
		return have, fmt.Errorf("hub %s@%s %s: %w%s", c.repo, revision, file, err, stalled(ctx, reqCtx, c.s.downloadTimeout))
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			// a range we did not ask for: start over on the next try
			if err := f.Truncate(0); err != nil {
				return 0, fmt.Errorf("hub cache %s: %w: %w", tmp, errLocal, err)
			}
			return 0, fmt.Errorf("hub %s@%s %s: server answered range %q to bytes=%d-", c.repo, revision, file, resp.Header.Get("Content-Range"), have)
		}
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent:
		have = 0 // the whole file (a server that ignores Range answers 200)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		if err := f.Truncate(0); err != nil {
			return 0, fmt.Errorf("hub cache %s: %w: %w", tmp, errLocal, err)
		}
		return 0, fmt.Errorf("hub %s@%s %s: %s for bytes=%d-", c.repo, revision, file, resp.Status, have)
	default:
		return have, c.statusError(resp, revision, file)
	}
	if err := f.Truncate(have); err != nil {
		return have, fmt.Errorf("hub cache %s: %w: %w", tmp, errLocal, err)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return have, fmt.Errorf("hub cache %s: %w: %w", tmp, errLocal, err)
	}
	buf := make([]byte, 256<<10)
	c.report(file, have, md.size, false)
	for {
		n, rerr := resp.Body.Read(buf)
		watchdog.Reset(c.s.downloadTimeout)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return have, fmt.Errorf("hub cache %s: %w: %w", tmp, errLocal, err)
			}
			have += int64(n)
			c.report(file, have, md.size, false)
		}
		if rerr == io.EOF {
			return have, nil
		}
		if rerr != nil {
			return have, fmt.Errorf("hub %s@%s %s: download interrupted after %d bytes: %w%s", c.repo, revision, file, have, rerr, stalled(ctx, reqCtx, c.s.downloadTimeout))
		}
	}
}

// stalled explains a request the watchdog cancelled (reqCtx done while
// the caller's ctx is not).
func stalled(ctx, reqCtx context.Context, d time.Duration) string {
	if ctx.Err() == nil && reqCtx.Err() != nil {
		return fmt.Sprintf(" (no data for %s; HF_HUB_DOWNLOAD_TIMEOUT sets the limit)", d)
	}
	return ""
}

// rangeStart reads the first byte of "bytes START-END/TOTAL".
func rangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// verify checks the downloaded file against md: its size when known, and
// its hash when the etag is one: the sha256 of an LFS file (64 hex) or
// the git blob hash of a small file (40 hex).
func (c *repoCache) verify(path string, md metadata, revision, file string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("hub cache %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("hub cache %s: %w", path, err)
	}
	if md.size >= 0 && st.Size() != md.size {
		return fmt.Errorf("hub %s@%s %s: %w: %d bytes, the Hub announced %d", c.repo, revision, file, ErrChecksum, st.Size(), md.size)
	}
	var h hash.Hash
	switch {
	case sha256Hex.MatchString(md.etag):
		h = sha256.New()
	case commitHash.MatchString(md.etag): // git blob object id
		h = sha1.New() //nolint:gosec // git's own hash
		_, _ = fmt.Fprintf(h, "blob %d\x00", st.Size())
	default:
		return nil
	}
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hub cache %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != md.etag {
		return fmt.Errorf("hub %s@%s %s: %w: hash %s, etag %s", c.repo, revision, file, ErrChecksum, got, md.etag)
	}
	return nil
}

// report calls the progress callback, if any.
func (c *repoCache) report(file string, done, total int64, finished bool) {
	if c.s.Progress != nil {
		c.s.Progress(Progress{Repo: c.repo.String(), File: file, Done: done, Total: total, Finished: finished})
	}
}
