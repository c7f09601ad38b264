// Package hub resolves Hugging Face Hub repository ids such as
// "Qwen/Qwen2.5-0.5B" or "org/name@v1.0" to a local snapshot directory,
// downloading the files a run needs into the cache that huggingface_hub
// uses, with the same layout, so that Python and ia3 share one cache:
//
//	<cache>/models--org--name/refs/<revision>          commit hash of a branch or tag
//	<cache>/models--org--name/snapshots/<sha>/<file>   symlink to ../../blobs/<etag>
//	<cache>/models--org--name/blobs/<etag>             the file's bytes
//	<cache>/models--org--name/.no_exist/<sha>/<file>   marks a file the repo lacks
//
// The cache is HF_HUB_CACHE, else HF_HOME/hub, else
// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. HF_ENDPOINT
// overrides https://huggingface.co; the token comes from HF_TOKEN, else
// the file HF_TOKEN_PATH, else HF_HOME/token; HF_HUB_OFFLINE=1 reads the
// cache only.
//
// Downloads go to blobs/<etag>.incomplete under a file lock shared with
// other processes, resume with HTTP ranges after a dropped connection, are
// checked against the etag (the sha256 of an LFS file, the git blob hash
// of a small one) and renamed into place. The package never prints:
// progress goes to Options.Progress.
//
// Package model and package ia3 load directories only and never reach the
// network; a caller that accepts Hub ids calls Resolve first and hands the
// directory it returns to model.Load or ia3.FromPretrained.
package hub
