//go:build cgo && !nowebgpu

package gpu

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// Access is how a kernel declares a binding.
type Access uint8

// Binding kinds a WGSL declaration can have.
const (
	Uniform   Access = iota // var<uniform>
	ReadOnly                // var<storage, read>
	ReadWrite               // var<storage, read_write>
)

// Pipeline is a compiled compute entry point with an explicit layout: a
// uniform at binding 0 (when the dispatch has parameters) and storage
// buffers at bindings 1..n, each read-only or read-write as the shader file
// declares it. An explicit layout lets an entry point leave some of a file's
// bindings unused.
type Pipeline struct {
	name      string // "file:entry"
	raw       *wgpu.ComputePipeline
	layout    *wgpu.PipelineLayout
	bgl       *wgpu.BindGroupLayout
	hasParams bool
	access    []Access // of bindings 1..n
}

type pipelineKey struct {
	file, entry string
	hasParams   bool
	nbufs       int
}

type pipelineCache struct {
	modules   map[string]*wgpu.ShaderModule
	decls     map[string]map[int]Access
	pipelines map[pipelineKey]*Pipeline
}

func (c *pipelineCache) init() {
	c.modules = map[string]*wgpu.ShaderModule{}
	c.decls = map[string]map[int]Access{}
	c.pipelines = map[pipelineKey]*Pipeline{}
}

func (c *pipelineCache) release() {
	for _, p := range c.pipelines {
		p.releaseParts()
	}
	for _, m := range c.modules {
		m.Release()
	}
	c.init()
}

var bindingDecl = regexp.MustCompile(`@binding\((\d+)\)\s*var<\s*(uniform|storage)\s*(?:,\s*(read_write|read)\s*)?>`)

// parseBindings maps each @binding(N) declared in src to its access mode.
// A file may declare one binding several times (entry points of one file
// may view a buffer with different types) but always with the same access
// mode, since the layout is built per binding number.
func parseBindings(src string) (map[int]Access, error) {
	out := map[int]Access{}
	for _, m := range bindingDecl.FindAllStringSubmatch(src, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("binding number %q: %w", m[1], err)
		}
		acc := ReadOnly
		switch {
		case m[2] == "uniform":
			acc = Uniform
		case m[3] == "read_write":
			acc = ReadWrite
		}
		if prev, ok := out[n]; ok && prev != acc {
			return nil, fmt.Errorf("@binding(%d) is declared both %s and %s", n, prev, acc)
		}
		out[n] = acc
	}
	return out, nil
}

// String returns the WGSL spelling of the access mode.
func (a Access) String() string {
	switch a {
	case Uniform:
		return "var<uniform>"
	case ReadOnly:
		return "var<storage, read>"
	}
	return "var<storage, read_write>"
}

// Pipeline returns the cached pipeline of entry in file, compiling the WGSL
// that source returns the first time the file is needed. hasParams and nbufs say how the
// dispatch binds it: a uniform at 0 or not, and storage at 1..nbufs.
func (d *Device) Pipeline(file, entry string, source func() (string, error), hasParams bool, nbufs int) (*Pipeline, error) {
	key := pipelineKey{file, entry, hasParams, nbufs}
	if p, ok := d.pipelines.pipelines[key]; ok {
		return p, nil
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	name := file + ":" + entry
	mod, ok := d.pipelines.modules[file]
	if !ok {
		code, err := source()
		if err != nil {
			return nil, fmt.Errorf("gpu: %s: %w", name, err)
		}
		decls, err := parseBindings(code)
		if err != nil {
			return nil, fmt.Errorf("gpu: %s: %w", file, err)
		}
		var cerr error
		err = scoped(d.raw, "gpu: compiling "+file, func() {
			mod, cerr = d.raw.CreateShaderModule(&wgpu.ShaderModuleDescriptor{
				Label:          file,
				WGSLDescriptor: &wgpu.ShaderModuleWGSLDescriptor{Code: code},
			})
		})
		if err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("gpu: compiling %s: %w", file, err)
		}
		d.pipelines.modules[file] = mod
		d.pipelines.decls[file] = decls
	}
	decls := d.pipelines.decls[file]
	p := &Pipeline{name: name, hasParams: hasParams}
	var entries []wgpu.BindGroupLayoutEntry
	if hasParams {
		if decls[0] != Uniform {
			return nil, fmt.Errorf("gpu: %s: parameters given but @binding(0) is not declared var<uniform>", name)
		}
		entries = append(entries, wgpu.BindGroupLayoutEntry{
			Binding: 0, Visibility: wgpu.ShaderStage_Compute,
			// A dynamic offset: the parameters of each dispatch sit at
			// their own offset in the batch's arena (see bindCache).
			Buffer: wgpu.BufferBindingLayout{Type: wgpu.BufferBindingType_Uniform, HasDynamicOffset: true},
		})
	}
	if nbufs > int(d.limits.MaxStorageBuffersPerStage) {
		return nil, fmt.Errorf("gpu: %s binds %d storage buffers, the device allows %d", name, nbufs, d.limits.MaxStorageBuffersPerStage)
	}
	for i := 1; i <= nbufs; i++ {
		acc, ok := decls[i]
		if !ok || acc == Uniform {
			return nil, fmt.Errorf("gpu: %s: no var<storage> declared at @binding(%d)", name, i)
		}
		typ := wgpu.BufferBindingType_ReadOnlyStorage
		if acc == ReadWrite {
			typ = wgpu.BufferBindingType_Storage
		}
		p.access = append(p.access, acc)
		entries = append(entries, wgpu.BindGroupLayoutEntry{
			Binding: uint32(i), Visibility: wgpu.ShaderStage_Compute,
			Buffer: wgpu.BufferBindingLayout{Type: typ},
		})
	}
	var cerr error
	err := scoped(d.raw, "gpu: building pipeline "+name, func() {
		if p.bgl, cerr = d.raw.CreateBindGroupLayout(&wgpu.BindGroupLayoutDescriptor{Label: name, Entries: entries}); cerr != nil {
			return
		}
		if p.layout, cerr = d.raw.CreatePipelineLayout(&wgpu.PipelineLayoutDescriptor{
			Label: name, BindGroupLayouts: []*wgpu.BindGroupLayout{p.bgl},
		}); cerr != nil {
			return
		}
		p.raw, cerr = d.raw.CreateComputePipeline(&wgpu.ComputePipelineDescriptor{
			Label: name, Layout: p.layout,
			Compute: wgpu.ProgrammableStageDescriptor{Module: mod, EntryPoint: entry},
		})
	})
	if err = errors.Join(err, cerr); err != nil {
		p.releaseParts()
		return nil, fmt.Errorf("gpu: building pipeline %s: %w", name, err)
	}
	d.pipelines.pipelines[key] = p
	return p, nil
}

// releaseParts releases whichever of the pipeline's objects were created.
func (p *Pipeline) releaseParts() {
	if p.raw != nil {
		p.raw.Release()
	}
	if p.layout != nil {
		p.layout.Release()
	}
	if p.bgl != nil {
		p.bgl.Release()
	}
	p.raw, p.layout, p.bgl = nil, nil, nil
}

// CheckShader compiles WGSL source as a shader module and releases it,
// returning the compiler's error: every entry point of the file is
// validated, not only those a test happens to dispatch.
func (d *Device) CheckShader(file, source string) error {
	if _, err := parseBindings(source); err != nil {
		return fmt.Errorf("gpu: %s: %w", file, err)
	}
	var mod *wgpu.ShaderModule
	var cerr error
	err := scoped(d.raw, "gpu: compiling "+file, func() {
		mod, cerr = d.raw.CreateShaderModule(&wgpu.ShaderModuleDescriptor{
			Label:          file,
			WGSLDescriptor: &wgpu.ShaderModuleWGSLDescriptor{Code: source},
		})
	})
	if mod != nil {
		mod.Release()
	}
	if err = errors.Join(err, cerr); err != nil {
		return fmt.Errorf("gpu: compiling %s: %w", file, err)
	}
	return nil
}
