package ia3

import (
	"errors"
	"fmt"

	"github.com/ia3/ia3/model"
)

// New attaches adapter name configured by cfg to m, as PEFT's
// get_peft_model(m, cfg, adapter_name=name): the matching modules get
// vectors (ones, or N(0,1) when init_ia3_weights is false), modules_to_save
// modules get a copy, every base parameter is frozen, and the adapter is
// active and trainable (frozen when cfg.InferenceMode). A structure-only
// model (no backend) gets the layer table without tensors.
//
// As in PEFT, cfg.TaskType decides whether a classification head is
// trained and saved (SEQ_CLS adds "classifier" and "score" to
// modules_to_save); set it from m.Config().TaskType.
func New(m *model.Model, cfg *Config, name string) (*Model, error) {
	if m == nil {
		return nil, errors.New("ia3.New: nil model")
	}
	mc := m.Config()
	info := baseInfo{modules: m.Modules(), outputLayer: m.OutputLayer(), modelType: mc.ModelType, taskType: mc.TaskType,
		paramShape: m.ParamShape, fusedQKV: m.FusedQKV}
	return newModel(info, m.Backend(), m, cfg, name)
}

// MergeAndUnload merges the named adapters (default: the active ones) into
// the weights and returns the base model without adapters, as PEFT's
// merge_and_unload. modules_to_save modules keep the active adapter's copy,
// also one without a weight of its own (RoBERTa's classification head),
// where PEFT 0.21 fails: this package deliberately differs there. This
// Model is unusable afterwards.
func (m *Model) MergeAndUnload(safe bool, names ...string) (*model.Model, error) {
	if err := m.unload(true, safe, names); err != nil {
		return nil, err
	}
	base, _ := m.base.(*model.Model)
	return base, nil
}

// Unload returns the base model without adapters and without merging, as
// PEFT's unload: layers already merged stay merged, and modules_to_save
// modules keep the active adapter's copy. A modules_to_save module without
// a weight of its own (RoBERTa's classification head), where PEFT 0.21
// fails, gets its original parameters back instead: the base model, as
// PEFT documents unload. This Model is unusable afterwards.
func (m *Model) Unload() (*model.Model, error) {
	if err := m.unload(false, false, nil); err != nil {
		return nil, err
	}
	base, _ := m.base.(*model.Model)
	return base, nil
}

// FromPretrained attaches the adapter saved in dir to m under name, as
// PEFT's PeftModel.from_pretrained(m, dir, adapter_name=name): active, and
// frozen (inference mode) unless trainable. The file must fit the model
// exactly (see LoadAdapter).
func FromPretrained(m *model.Model, dir, name string, trainable bool) (*Model, error) {
	if m == nil {
		return nil, errors.New("ia3.FromPretrained: nil model")
	}
	if m.Backend() == nil {
		return nil, errors.New("ia3.FromPretrained: the model has no backend (structure only)")
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	cfg.InferenceMode = !trainable
	pm, err := New(m, cfg, name)
	if err != nil {
		return nil, fmt.Errorf("load adapter %s from %s: %w", name, dir, err)
	}
	if err := pm.fillFromDir(dir, name); err != nil {
		if _, uerr := pm.Unload(); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return nil, fmt.Errorf("load adapter %s: %w", name, err)
	}
	return pm, nil
}
