package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ia3/ia3/ia3/train"
)

// Exit codes scripts can rely on; the root command's help lists them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError marks a mistake in the command line (a bad flag, a missing
// required flag, a malformed value), as opposed to a failure at run time.
type usageError struct{ err error }

// Error returns the message of the wrapped error.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error.
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// cobraUsagePrefixes are the beginnings of the errors cobra itself returns
// for command-line mistakes it detects (unknown commands, argument counts,
// required flags), which it does not let a program type.
var cobraUsagePrefixes = []string{"unknown command", "required flag", "accepts ", "unknown flag",
	"unknown shorthand", "invalid argument", "flag needs an argument", "if any flags in the group"}

// exitCode maps an error returned by the command tree to the process's
// exit status.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	for _, p := range cobraUsagePrefixes {
		if strings.HasPrefix(err.Error(), p) {
			return exitUsage
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, train.ErrInterrupted) {
		return exitInterrupted
	}
	return exitFailure
}

// oneLine flattens an error message onto one line for stderr.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
