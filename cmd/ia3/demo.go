package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/ia3/train"
)

// runDemo runs the built-in demo: train.Demo with the run options the
// flags give.
func runDemo(_ *cobra.Command, _ *app, _ *trainFlags, _ train.Options) error {
	return errors.New("the built-in demo is not yet available in this build (train.Demo has not landed); give --model and --data")
}
