// Package conformance checks that every compute device computes what it
// should, at two levels: every backend operation against a float64
// reference (RunOps, in the style of llama.cpp's test-backend-ops), and
// whole models with their (IA)³ adapters against numbers Hugging Face
// transformers + PEFT produced (RunFixtures).
//
// # Operations
//
// Each operation of backend.Backend runs on each device for a table of
// shapes and variants: sizes 1, odd and non-tile-multiple (3, 7, 33, 129)
// and 1000+ in every family, transposes, broadcasts, F16/BF16 weights,
// fan_in_fan_out, masks, biases, stacked per-row (IA)³ scales with -1 rows,
// PEFT's inverse. Inputs come from a random stream seeded by the case's
// name, so a case sees the same data on every device and under any filter.
// The downloaded result is compared with an independent float64 reference
// (package conformance/ref, itself checked against finite differences for
// every backward operation).
//
// A row passes when its largest absolute error, divided by the largest
// magnitude of the reference result, is within the operation's tolerance.
// The tolerances live in one table (ops_tolerance.go) with the reason for
// each: exact for data movement, a few units of float32 rounding for
// element-wise arithmetic, growing as √K·2⁻²⁴ for reductions of length K,
// and looser for the transcendental functions GPUs approximate. Malformed
// calls (wrong shapes and dtypes, sizes past a device limit, tensors of
// another device) pass when the device returns an error instead of
// panicking.
//
// RunOps runs the suite and returns a Report that prints as an aligned
// table (Report.WriteTable) or as JSON with the devices' full description
// (Report.WriteJSON); `ia3 conformance --ops` calls it. `go test
// ./conformance/...` runs it on every device it finds, one subtest per
// device × op × shape; it needs no GPU unless IA3_REQUIRE_GPU=1.
//
// To add a case, append it to the family's table in ops_cases_*.go: build
// registers inputs with the gen helpers, returns the call and the ref
// result; give a new operation a tolerance with its reason.
//
// # Models
//
// RunFixtures walks any directory in the PEFT fixture layout
// (testdata/fixtures/README.md; package model/fixture reads it) and runs
// every case it finds on each device: module matching, adapter files,
// every logits_* key (base, adapters, both active, disabled, weighted,
// merged in place and unmerged, merge_and_unload, unload), mixed-adapter
// batches, the operations PEFT refused, and the 5-step AdamW trajectory.
// An architecture it cannot run is a failing row, not a skip. `ia3
// conformance --fixtures DIR` calls it; FixtureReport prints like Report.
package conformance
