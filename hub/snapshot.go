package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files a snapshot fetches, in the order transformers and PEFT look for
// them.
var (
	// modelWeights are tried in order; the first the repo has wins, so
	// pytorch_model.bin is fetched only without safetensors.
	modelWeights = []string{"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"}
	// modelOptional are fetched when the repo has them. Recent
	// transformers saves the chat template beside tokenizer_config.json,
	// in chat_template.jinja (or chat_template.json). spm.model
	// (DeBERTa-v2/v3) and spiece.model (T5, mT5, ALBERT) are the
	// SentencePiece models of repos without a tokenizer.json, as
	// tokenizer.model is Llama's.
	modelOptional = []string{"generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
		"tokenizer.model", "spm.model", "spiece.model", "chat_template.jinja", "chat_template.json"}
	// adapterWeights are tried in order, like modelWeights.
	adapterWeights = []string{"adapter_model.safetensors", "adapter_model.bin"}
)

// maxIndexBytes bounds a shard index read into memory.
const maxIndexBytes = 64 << 20

// Resolve returns s itself when it names an existing local path or is
// not shaped like a Hub id (see IsRepoID), and otherwise the snapshot
// directory Snapshot returns for it. It is the one call a program needs to
// accept both forms.
func Resolve(ctx context.Context, s string, opts Options) (string, error) {
	if !IsRepoID(s) {
		return s, nil
	}
	return Snapshot(ctx, s, opts)
}

// Snapshot returns the cache's snapshot directory of repoID
// ("org/name[@revision]") holding the files a run of opts.Kind needs,
// downloading what the cache lacks. For a model: config.json; the
// weights (model.safetensors, else model.safetensors.index.json and the
// shards it names, else the same for pytorch_model.bin); and, when the
// repo has them, generation_config.json, tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, the SentencePiece model
// (tokenizer.model, spm.model, spiece.model) and chat_template.jinja or
// .json. For
// an adapter: adapter_config.json and adapter_model.safetensors (else
// adapter_model.bin). For ModelConfig and AdapterConfig: config.json or
// adapter_config.json alone. A branch or tag is resolved to its commit once, by
// the first request, so every file comes from the same commit. Offline
// it reads the cache only and fails with ErrNotCached naming what is
// missing.
func Snapshot(ctx context.Context, repoID string, opts Options) (string, error) {
	repo, err := ParseRepoID(repoID)
	if err != nil {
		return "", err
	}
	s, err := opts.resolve()
	if err != nil {
		return "", err
	}
	rev := repo.Revision
	if rev == "" {
		rev = s.Revision
	}
	if rev == "" {
		rev = DefaultRevision
	}
	if _, err := ParseRepoID(repo.String() + "@" + rev); err != nil {
		return "", err
	}
	repo.Revision = rev
	sn := &snapshot{c: newRepoCache(s, repo), revision: rev}
	if commitHash.MatchString(rev) {
		sn.commit = rev
	}
	return sn.fetchAll(ctx, s.Kind)
}

// snapshot gathers one revision's files.
type snapshot struct {
	c        *repoCache
	revision string // as the user named it
	commit   string // once known
}

// fetchAll fetches kind's files and returns the snapshot directory.
func (sn *snapshot) fetchAll(ctx context.Context, kind Kind) (string, error) {
	config, weights, optional := "config.json", modelWeights, modelOptional
	if kind == Adapter || kind == AdapterConfig {
		config, weights, optional = "adapter_config.json", adapterWeights, nil
	}
	if _, err := sn.file(ctx, config, true); err != nil {
		return "", err
	}
	if kind == ModelConfig || kind == AdapterConfig {
		return filepath.Join(sn.c.dir, "snapshots", sn.commit), nil
	}
	found := ""
	for _, w := range weights {
		ok, err := sn.file(ctx, w, false)
		if err != nil {
			return "", err
		}
		if ok {
			found = w
			break
		}
	}
	if found == "" {
		sentinel := ErrNotFound
		if sn.c.s.Offline {
			sentinel = ErrNotCached
		}
		return "", fmt.Errorf("hub %s@%s: %w: no %s weights (%s)", sn.c.repo, sn.revision, sentinel, kind, strings.Join(weights, ", "))
	}
	if strings.HasSuffix(found, ".index.json") {
		shards, err := sn.shards(found)
		if err != nil {
			return "", err
		}
		for _, sh := range shards {
			if _, err := sn.file(ctx, sh, true); err != nil {
				return "", err
			}
		}
	}
	for _, o := range optional {
		if _, err := sn.file(ctx, o, false); err != nil {
			return "", err
		}
	}
	return filepath.Join(sn.c.dir, "snapshots", sn.commit), nil
}

// shards lists the distinct files a shard index's weight_map names,
// refusing names that would leave the snapshot.
func (sn *snapshot) shards(index string) ([]string, error) {
	p := sn.c.pointerPath(sn.commit, index)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("hub %s: %w", index, err)
	}
	defer func() { _ = f.Close() }()
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.NewDecoder(io.LimitReader(f, maxIndexBytes)).Decode(&idx); err != nil {
		return nil, fmt.Errorf("hub %s@%s %s: %w", sn.c.repo, sn.revision, index, err)
	}
	var out []string
	for key, name := range idx.WeightMap {
		if name == "" || !filepath.IsLocal(name) || strings.Contains(name, `\`) || strings.HasPrefix(name, "/") {
			return nil, fmt.Errorf("hub %s@%s %s: weight_map[%q] = %q is not a file in the repo", sn.c.repo, sn.revision, index, key, name)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("hub %s@%s %s: empty weight_map", sn.c.repo, sn.revision, index)
	}
	slices.Sort(out)
	return out, nil
}

// file makes file present in the snapshot and reports whether the repo
// has it. A file the repo lacks is an error when required.
func (sn *snapshot) file(ctx context.Context, file string, required bool) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if sn.c.s.Offline {
		return sn.cached(file, required)
	}
	if sn.commit != "" {
		if exists(sn.c.pointerPath(sn.commit, file)) {
			return true, nil
		}
		if !required && exists(sn.c.noExistPath(sn.commit, file)) {
			return false, nil
		}
	}
	rev := sn.revision
	if sn.commit != "" {
		rev = sn.commit
	}
	md, err := sn.c.head(ctx, rev, file)
	if err != nil {
		if he, missing := entryMissing(err); missing {
			commit := he.commit
			if commit == "" {
				commit = sn.commit
			}
			if commitHash.MatchString(commit) {
				if sn.commit == "" {
					sn.commit = commit
					if err := sn.c.writeRef(sn.revision, commit); err != nil {
						return false, err
					}
				}
				if err := sn.c.markMissing(commit, file); err != nil {
					return false, err
				}
			}
			if !required {
				return false, nil
			}
			return false, err
		}
		var ne net.Error
		var oe *net.OpError
		if ctx.Err() == nil && (errors.As(err, &ne) || errors.As(err, &oe)) {
			// The Hub is unreachable: use the cache, as huggingface_hub does.
			if ok, cerr := sn.cached(file, required); cerr == nil {
				return ok, nil
			}
		}
		return false, err
	}
	if sn.commit == "" {
		sn.commit = md.commit
	}
	if md.commit != sn.commit {
		return false, fmt.Errorf("hub %s %s: the Hub answered for commit %s, expected %s", sn.c.repo, file, md.commit, sn.commit)
	}
	if err := sn.c.writeRef(sn.revision, md.commit); err != nil {
		return false, err
	}
	pointer := sn.c.pointerPath(md.commit, file)
	if exists(pointer) {
		return true, nil
	}
	blob := sn.c.blobPath(md.etag)
	if !exists(blob) {
		if blob, err = sn.c.download(ctx, md, sn.revision, file); err != nil {
			return false, err
		}
	}
	if err := sn.c.link(blob, pointer); err != nil {
		return false, err
	}
	return true, nil
}

// cached looks file up in the cache alone: refs/<revision> names the
// commit (unless the revision is one), snapshots/<commit>/<file> must
// exist.
func (sn *snapshot) cached(file string, required bool) (bool, error) {
	offline := ""
	if sn.c.s.Offline {
		offline = " (HF_HUB_OFFLINE=1: the Hub is not asked)"
	}
	if sn.commit == "" {
		commit, err := sn.c.readRef(sn.revision)
		if err != nil {
			return false, err
		}
		if commit == "" {
			return false, fmt.Errorf("hub %s: %w: no revision %q in %s%s", sn.c.repo, ErrNotCached, sn.revision, sn.c.dir, offline)
		}
		sn.commit = commit
	}
	if exists(sn.c.pointerPath(sn.commit, file)) {
		return true, nil
	}
	if required {
		return false, fmt.Errorf("hub %s@%s: %w: %s is not in snapshot %s%s", sn.c.repo, sn.revision, ErrNotCached, file, filepath.Join(sn.c.dir, "snapshots", sn.commit), offline)
	}
	return false, nil
}
