package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newTrainCmd(a *app) *cobra.Command {
	return &cobra.Command{Use: "train", Short: "Train an IA3 adapter", Long: "Train.", Example: "  ia3 train",
		RunE: func(*cobra.Command, []string) error { return errors.New("not yet") }}
}

func newEvalCmd(a *app) *cobra.Command {
	return &cobra.Command{Use: "eval", Short: "Evaluate", Long: "Eval.", Example: "  ia3 eval",
		RunE: func(*cobra.Command, []string) error { return errors.New("not yet") }}
}
