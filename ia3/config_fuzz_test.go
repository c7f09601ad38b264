package ia3

import (
	"testing"

	"github.com/ia3/ia3/model/modeltest"
)

// FuzzParseConfig parses arbitrary bytes as adapter_config.json: it must
// never panic, and a config it accepts must survive Marshal and parse to
// the same bytes again (what SavePretrained writes, FromPretrained reads).
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"peft_type": "IA3", "task_type": "CAUSAL_LM", "target_modules": ["c_attn", "mlp.c_proj"], "feedforward_modules": ["mlp.c_proj"], "fan_in_fan_out": true, "inference_mode": true}`,
		`{"peft_type": "IA3", "target_modules": ".*\\.(k|v)_proj$", "feedforward_modules": ".*down_proj$", "modules_to_save": ["lm_head"], "init_ia3_weights": false}`,
		`{"peft_type": "IA3", "target_modules": "all-linear", "exclude_modules": ["lm_head"], "modules_to_save": null, "revision": null, "extra": {"k": [1, 2]}}`,
		`{"peft_type": "IA3", "ia3_fused_kv_only": true}`, `{"peft_type": "IA3", "ia3_fused_kv_only": "yes"}`,
		`{"peft_type": "LORA"}`, `{"peft_type": "IA3", "target_modules": "(["}`, `{"peft_type": "IA3", "feedforward_modules": ["x"]}`,
		`{"target_modules": 3}`, `[]`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	modeltest.AddSeeds(f, "peft/*/adapters/*/adapter_config.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("accepted %q, then could not write it: %v", data, err)
		}
		c2, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("accepted %q, wrote %s, then refused that: %v", data, out, err)
		}
		out2, err := c2.Marshal()
		if err != nil || string(out2) != string(out) {
			t.Fatalf("%q: written twice differently:\n%s\n%s (%v)", data, out, out2, err)
		}
	})
}
