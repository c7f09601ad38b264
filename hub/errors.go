package hub

import "errors"

// Errors Snapshot wraps, for errors.Is.
var (
	// ErrNotCached: offline (HF_HUB_OFFLINE=1), and the cache lacks the
	// revision or a file.
	ErrNotCached = errors.New("not in the Hugging Face cache")
	// ErrUnauthorized: the Hub answered 401 or 403 (a gated or private
	// repo, or a missing token).
	ErrUnauthorized = errors.New("the Hub refused access")
	// ErrNotFound: the Hub answered 404 for the repo, revision or a file
	// the run needs.
	ErrNotFound = errors.New("not found on the Hub")
	// ErrChecksum: a downloaded file does not match the size or hash the
	// Hub announced.
	ErrChecksum = errors.New("downloaded file does not match the Hub's checksum")
)

// httpError is an error status from the Hub, with what the 404 handling
// needs to know.
type httpError struct {
	sentinel error
	msg      string
	// code is the X-Error-Code header (EntryNotFound, RevisionNotFound,
	// RepoNotFound, GatedRepo).
	code string
	// commit is the X-Repo-Commit header, sent with a 404 for a file the
	// revision lacks.
	commit string
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.sentinel }

// entryMissing reports whether err is a 404 for a file in a repo and
// revision that exist, which an optional file may answer.
func entryMissing(err error) (*httpError, bool) {
	var he *httpError
	if !errors.As(err, &he) || he.sentinel != ErrNotFound {
		return nil, false
	}
	return he, he.code == "" || he.code == "EntryNotFound"
}
