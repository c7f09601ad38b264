package hub

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// DefaultRevision is the revision used when a repo id names none, as in
// huggingface_hub.
const DefaultRevision = "main"

// RepoID is a parsed Hub model repository id.
type RepoID struct {
	// Org and Name are the two halves of "org/name".
	Org, Name string
	// Revision is the branch, tag or 40-hex commit after "@"; empty when
	// the id names none.
	Revision string
}

// String returns "org/name", without the revision.
func (r RepoID) String() string { return r.Org + "/" + r.Name }

// folderName is the cache folder of the repo: models--org--name.
func (r RepoID) folderName() string { return "models--" + r.Org + "--" + r.Name }

// namePart matches one half of a repo id as huggingface_hub's
// validate_repo_id allows it.
var namePart = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,96}$`)

// commitHash matches a full commit hash, which huggingface_hub trusts
// without asking the Hub.
var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ParseRepoID parses "org/name" or "org/name@revision". It refuses what
// huggingface_hub refuses ("--" or ".." in a name, a name starting or
// ending with "-" or ".") and ids without an organisation, so that a
// mistyped local directory is not sent to the Hub.
func ParseRepoID(s string) (RepoID, error) {
	id, rev, hasRev := strings.Cut(s, "@")
	if hasRev && (rev == "" || strings.ContainsAny(rev, " \t\r\n\\") || strings.Contains(rev, "..")) {
		return RepoID{}, fmt.Errorf("hub repo id %q: bad revision %q", s, rev)
	}
	org, name, ok := strings.Cut(id, "/")
	if !ok || strings.Contains(name, "/") {
		return RepoID{}, fmt.Errorf("hub repo id %q: want org/name[@revision]", s)
	}
	for _, p := range []string{org, name} {
		if !namePart.MatchString(p) || strings.Contains(p, "--") || strings.Contains(p, "..") ||
			strings.HasPrefix(p, "-") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, "-") || strings.HasSuffix(p, ".") {
			return RepoID{}, fmt.Errorf("hub repo id %q: %q is not a valid Hub name", s, p)
		}
	}
	return RepoID{Org: org, Name: name, Revision: rev}, nil
}

// IsRepoID reports whether s should be read as a Hub repo id rather than
// a local path: an existing file or directory always wins, and so does
// anything shaped like a path (absolute, starting with "." or "~", or with
// more than one "/" before any "@").
func IsRepoID(s string) bool {
	if _, err := os.Stat(s); err == nil {
		return false
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") || strings.Contains(s, `\`) {
		return false
	}
	_, err := ParseRepoID(s)
	return err == nil
}
