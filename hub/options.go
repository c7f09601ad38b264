package hub

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub's address when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Kind says which files a snapshot needs.
type Kind int

const (
	// Model is a base model: config, weights, tokenizer and generation
	// config.
	Model Kind = iota
	// Adapter is a PEFT adapter: adapter_config.json and its weights.
	Adapter
	// ModelConfig is a model's config.json alone, for commands that read
	// no weights (ia3 inspect, ia3 bench --config).
	ModelConfig
	// AdapterConfig is an adapter's adapter_config.json alone, to take an
	// IA3 configuration from.
	AdapterConfig
)

// String names the kind in errors.
func (k Kind) String() string {
	switch k {
	case Adapter:
		return "adapter"
	case ModelConfig:
		return "model config"
	case AdapterConfig:
		return "adapter config"
	}
	return "model"
}

// Progress is one report on a file being downloaded.
type Progress struct {
	// Repo is "org/name" and File the file's path in the repo.
	Repo, File string
	// Done is how many bytes are on disk; Total the file's size, or -1
	// when the Hub did not say.
	Done, Total int64
	// Finished is true on the last report of the file.
	Finished bool
}

// Options configure Snapshot. The zero value takes everything from the
// environment as huggingface_hub does.
type Options struct {
	// Kind says which files to fetch.
	Kind Kind
	// Revision is used when the repo id names none; empty means "main".
	Revision string
	// CacheDir overrides the cache directory from the environment.
	CacheDir string
	// Endpoint overrides HF_ENDPOINT.
	Endpoint string
	// Token overrides HF_TOKEN and the token file.
	Token string
	// Offline reads the cache only, as HF_HUB_OFFLINE=1 does (either one
	// is enough).
	Offline bool
	// Client sends the requests; nil means a client with no overall
	// timeout (downloads are long), cancelled through the context.
	Client *http.Client
	// Progress, when not nil, is called as files download.
	Progress func(Progress)
	// Getenv reads the environment; nil means os.Getenv (tests set it).
	Getenv func(string) string
}

// Timeouts huggingface_hub uses, in seconds, unless HF_HUB_ETAG_TIMEOUT
// or HF_HUB_DOWNLOAD_TIMEOUT say otherwise.
const (
	defaultEtagTimeout     = 10 * time.Second
	defaultDownloadTimeout = 10 * time.Second
)

// settings are Options with the environment applied.
type settings struct {
	Options
	userHome func() (string, error)
	// etagTimeout bounds a metadata request (HEAD); downloadTimeout is
	// how long a download may go without receiving a byte.
	etagTimeout, downloadTimeout time.Duration
}

// resolve fills the unset fields of o from the environment.
func (o Options) resolve() (settings, error) {
	s := settings{Options: o, userHome: os.UserHomeDir}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if s.CacheDir == "" {
		dir, err := cacheDir(getenv, s.userHome)
		if err != nil {
			return s, err
		}
		s.CacheDir = dir
	}
	if s.Endpoint == "" {
		s.Endpoint = getenv("HF_ENDPOINT")
	}
	if s.Endpoint == "" {
		s.Endpoint = DefaultEndpoint
	}
	s.Endpoint = strings.TrimRight(s.Endpoint, "/")
	if s.Token == "" {
		t, err := token(getenv, s.userHome)
		if err != nil {
			return s, err
		}
		s.Token = t
	}
	s.Offline = s.Offline || isTrue(getenv("HF_HUB_OFFLINE")) || isTrue(getenv("TRANSFORMERS_OFFLINE"))
	if s.Client == nil {
		s.Client = &http.Client{}
	}
	var err error
	if s.etagTimeout, err = seconds(getenv, "HF_HUB_ETAG_TIMEOUT", defaultEtagTimeout); err != nil {
		return s, err
	}
	if s.downloadTimeout, err = seconds(getenv, "HF_HUB_DOWNLOAD_TIMEOUT", defaultDownloadTimeout); err != nil {
		return s, err
	}
	return s, nil
}

// seconds reads a positive number of seconds from the environment
// variable name, or returns def when it is unset.
func seconds(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || f > 1e6 {
		return 0, fmt.Errorf("%s=%q: want a positive number of seconds", name, v)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// CacheDir returns the Hub cache directory the environment names, as
// huggingface_hub's constants do.
func CacheDir() (string, error) { return cacheDir(os.Getenv, os.UserHomeDir) }

// cacheDir is CacheDir with the environment passed in.
func cacheDir(getenv func(string) string, home func() (string, error)) (string, error) {
	if d := getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(d, home)
	}
	if d := getenv("HUGGINGFACE_HUB_CACHE"); d != "" { // huggingface_hub's legacy name
		return expandHome(d, home)
	}
	h, err := hfHome(getenv, home)
	if err != nil {
		return "", err
	}
	return filepath.Join(h, "hub"), nil
}

// hfHome is HF_HOME, else XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface.
func hfHome(getenv func(string) string, home func() (string, error)) (string, error) {
	if d := getenv("HF_HOME"); d != "" {
		return expandHome(d, home)
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "huggingface"), nil
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("hub cache: no HF_HUB_CACHE, HF_HOME or XDG_CACHE_HOME, and no home directory: %w", err)
	}
	return filepath.Join(h, ".cache", "huggingface"), nil
}

// expandHome expands a leading "~/" as Python's os.path.expanduser does.
func expandHome(p string, home func() (string, error)) (string, error) {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok && p != "~" {
		return p, nil
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(h, rest), nil
}

// token returns HF_TOKEN, else the first line of HF_TOKEN_PATH, else of
// HF_HOME/token; "" when there is none.
func token(getenv func(string) string, home func() (string, error)) (string, error) {
	if t := strings.TrimSpace(getenv("HF_TOKEN")); t != "" {
		return t, nil
	}
	if t := strings.TrimSpace(getenv("HUGGING_FACE_HUB_TOKEN")); t != "" { // legacy name
		return t, nil
	}
	path := getenv("HF_TOKEN_PATH")
	if path == "" {
		h, err := hfHome(getenv, home)
		if err != nil {
			return "", nil // no home: no token file either
		}
		path = filepath.Join(h, "token")
	}
	path, err := expandHome(path, home)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("hub token file %s: %w", path, err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(first), nil
}

// isTrue reads a boolean environment value as huggingface_hub does.
func isTrue(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}
