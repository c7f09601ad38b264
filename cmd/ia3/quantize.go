package main

import (
	"github.com/spf13/cobra"

	"github.com/ia3/ia3/quant"
)

// quantizeHelp documents --quantize on every command that loads a base
// model for computing.
const quantizeHelp = "keep the base model's block weights quantized on the device: int8 (Q8_0 blocks of 32) or " +
	"nf4 (4-bit NormalFloat, double quantization), as bitsandbytes' load_in_8bit/4bit; the (IA)³ vectors stay " +
	"float32 (docs/quantization.md)"

// addQuantizeFlag adds --quantize to a command.
func addQuantizeFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVar(v, "quantize", "", quantizeHelp)
}

// quantizeFormat parses a --quantize value; a bad one is a usage error.
func quantizeFormat(v string) (quant.Format, error) {
	f, err := quant.ParseFormat(v)
	if err != nil {
		return quant.None, usagef("--quantize %q: want int8 or nf4", v)
	}
	return f, nil
}
