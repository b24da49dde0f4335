package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/spec"
)

// specFlags are the flags that name a spec and its variables.
type specFlags struct {
	files    stringList
	vars     stringList
	varFiles stringList
}

func addSpecFlags(fs *flagSet, cfg Config) *specFlags {
	s := &specFlags{files: stringList{vals: cfg.Files}, varFiles: stringList{vals: cfg.VarFiles}}
	if len(s.files.vals) == 0 {
		s.files.vals = []string{spec.DefaultFile}
	}
	fs.Var(&s.files, "file", "spec `path`: a file or a directory of *.hcl and *.hcl.json files; repeatable (KEYPROV_FILE, comma-separated)")
	fs.alias("f", "file")
	fs.Var(&s.vars, "var", "set a variable: `name=value`; repeatable (also KEYPROV_VAR_<name>)")
	fs.Var(&s.varFiles, "var-file", "read variables from an HCL or JSON `file`; repeatable (KEYPROV_VARFILE, comma-separated)")
	return s
}

func (s *specFlags) options(a *app, secrets bool) (spec.Options, error) {
	opts := spec.Options{
		Paths:    s.files.vals,
		VarFiles: s.varFiles.vals,
		Secrets:  secrets,
		LookupEnv: func(name string) (string, bool) {
			v, ok := a.environ[name]
			return v, ok
		},
		Limits: spec.Limits{MaxSpecBytes: a.cfg.MaxSpecBytes, MaxFileBytes: a.cfg.MaxFileBytes, MaxKeys: a.cfg.MaxKeys,
			MaxValueBytes: a.cfg.MaxValueBytes, MaxElements: a.cfg.MaxElements},
	}
	for _, kv := range s.vars.vals {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return opts, fmt.Errorf("-var %s: want name=value", quoteArg(kv))
		}
		opts.Vars = append(opts.Vars, spec.Var{Name: name, Value: val})
	}
	return opts, nil
}

// loadedSpec is an evaluated spec with what is needed to report on it.
type loadedSpec struct {
	spec    *spec.Spec
	diags   hcl.Diagnostics
	sources map[string][]byte
}

// loadSpec reads and evaluates the spec. It never fails: problems are
// diagnostics. The collector is set for evaluation (evaluationGC).
func (a *app) loadSpec(s *specFlags, secrets bool) loadedSpec {
	defer evaluationGC(a.environ)()
	opts, err := s.options(a, secrets)
	if err != nil {
		return loadedSpec{diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid flag", Detail: err.Error() + "."}}}
	}
	srcs, diags := spec.ReadSources(opts.Paths, opts.Limits.MaxSpecBytes)
	a.reserveHeap(srcs, opts)
	return evaluate(srcs, diags, opts)
}

// evaluate evaluates sources that were read with diags, unless reading
// them failed, and keeps their text for the diagnostics' source lines.
func evaluate(srcs []spec.Source, diags hcl.Diagnostics, opts spec.Options) loadedSpec {
	ls := loadedSpec{diags: diags, sources: map[string][]byte{}}
	for _, src := range srcs {
		ls.sources[src.Name] = src.Bytes
	}
	if diags.HasErrors() {
		return ls
	}
	ls.spec, diags = spec.Evaluate(srcs, opts)
	ls.diags = append(ls.diags, diags...)
	return ls
}

// loadSpecContext is loadSpec that gives up when ctx ends (a signal):
// evaluation takes no context, and a large spec must not hold up the exit.
// The abandoned evaluation ends with the process.
func (a *app) loadSpecContext(ctx context.Context, s *specFlags, secrets bool) (loadedSpec, error) {
	done := make(chan loadedSpec, 1)
	go func() { done <- a.loadSpec(s, secrets) }()
	select {
	case ls := <-done:
		return ls, nil
	case <-ctx.Done():
		return loadedSpec{}, context.Cause(ctx)
	}
}
