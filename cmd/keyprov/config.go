package main

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is the configuration read from KEYPROV_* environment variables.
// Command-line flags override it.
type Config struct {
	Files           []string      `env:"KEYPROV_FILE" envSeparator:","`
	DatabaseURL     string        `env:"KEYPROV_DATABASE_URL"`
	DatabaseURLFile string        `env:"KEYPROV_DATABASE_URL_FILE"`
	FallbackURL     string        `env:"DATABASE_URL"`
	Schema          string        `env:"KEYPROV_SCHEMA" envDefault:"keyprov"`
	Wait            time.Duration `env:"KEYPROV_WAIT" envDefault:"60s"`
	ConnectTimeout  time.Duration `env:"KEYPROV_CONNECT_TIMEOUT" envDefault:"5s"`
	LockTimeout     time.Duration `env:"KEYPROV_LOCK_TIMEOUT" envDefault:"30s"`
	QueryMode       string        `env:"KEYPROV_QUERY_MODE" envDefault:"exec"`
	Prune           pruneMode     `env:"KEYPROV_PRUNE"`
	LogLevel        string        `env:"KEYPROV_LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"KEYPROV_LOG_FORMAT" envDefault:"auto"`
	MaxSpecBytes    int64         `env:"KEYPROV_MAX_SPEC_BYTES" envDefault:"8388608"`
	MaxFileBytes    int64         `env:"KEYPROV_MAX_FILE_BYTES" envDefault:"67108864"`
	MaxKeys         int           `env:"KEYPROV_MAX_KEYS" envDefault:"1000000"`
	MaxValueBytes   int64         `env:"KEYPROV_MAX_VALUE_BYTES" envDefault:"33554432"`
	MaxElements     int           `env:"KEYPROV_MAX_ELEMENTS" envDefault:"1000000"`
	NoColor         bool          `env:"NO_COLOR"`

	// AllowNewPrevious is the default of --allow-new-previous (plan, apply).
	AllowNewPrevious bool `env:"KEYPROV_ALLOW_NEW_PREVIOUS"`
	// Full is the default of --full (plan, apply): never answer from the
	// store's input record.
	Full bool `env:"KEYPROV_FULL"`

	// The defaults of more flags, so that a deployment (a pod spec) can set
	// them: --var-file (every command that evaluates a spec; KEYPROV_VARFILE
	// is outside the KEYPROV_VAR_<name> space of spec variables),
	// --warn-expiry (validate, plan, apply), and plan and apply's --strict,
	// --max-prune, --fail-on and --full-read.
	VarFiles   []string      `env:"KEYPROV_VARFILE" envSeparator:","`
	WarnExpiry time.Duration `env:"KEYPROV_WARN_EXPIRY" envDefault:"336h"`
	Strict     bool          `env:"KEYPROV_STRICT"`
	MaxPrune   maxPruneFlag  `env:"KEYPROV_MAX_PRUNE"`
	FailOn     string        `env:"KEYPROV_FAIL_ON" envDefault:"none"`
	FullRead   bool          `env:"KEYPROV_FULL_READ"`

	// Actor names who applies or revokes on the events; empty: user@host.
	Actor string `env:"KEYPROV_ACTOR"`
	// CPUProfile, when set, is the file a CPU profile of the run is written
	// to, for pprof.
	CPUProfile string `env:"KEYPROV_CPU_PROFILE"`
	// HeapProfile, when set, is the file a heap profile is written to at
	// the end of the run, for pprof: what the run allocated (alloc_space,
	// alloc_objects) and what was in use at the last collection.
	HeapProfile string `env:"KEYPROV_HEAP_PROFILE"`
}

// Values that some settings are restricted to (the flags check them too).
var (
	logLevels    = []string{"trace", "debug", "info", "warn", "error", "disabled"}
	logFormats   = []string{"auto", "json", "console"}
	failOnLevels = []string{"none", "risk", "low", "medium", "high", "critical"}
)

func loadConfig(environ map[string]string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: environ})
	if err != nil {
		return cfg, fmt.Errorf("reading KEYPROV_* configuration: %w", namedParseErrors(err))
	}
	// A limit of zero or less would silently fall back to the default
	// (spec.Limits treats it as unset): refuse it instead.
	switch {
	case cfg.MaxSpecBytes < 1:
		return cfg, fmt.Errorf("reading KEYPROV_* configuration: KEYPROV_MAX_SPEC_BYTES must be at least 1, not %d", cfg.MaxSpecBytes)
	case cfg.MaxFileBytes < 1:
		return cfg, fmt.Errorf("reading KEYPROV_* configuration: KEYPROV_MAX_FILE_BYTES must be at least 1, not %d", cfg.MaxFileBytes)
	case cfg.MaxKeys < 1:
		return cfg, fmt.Errorf("reading KEYPROV_* configuration: KEYPROV_MAX_KEYS must be at least 1, not %d", cfg.MaxKeys)
	case cfg.MaxValueBytes < 1:
		return cfg, fmt.Errorf("reading KEYPROV_* configuration: KEYPROV_MAX_VALUE_BYTES must be at least 1, not %d", cfg.MaxValueBytes)
	case cfg.MaxElements < 1:
		return cfg, fmt.Errorf("reading KEYPROV_* configuration: KEYPROV_MAX_ELEMENTS must be at least 1, not %d", cfg.MaxElements)
	}
	for _, c := range []struct {
		name, val string
		allowed   []string
	}{
		{"KEYPROV_LOG_LEVEL", cfg.LogLevel, logLevels},
		{"KEYPROV_LOG_FORMAT", cfg.LogFormat, logFormats},
		{"KEYPROV_FAIL_ON", cfg.FailOn, failOnLevels},
	} {
		if !slices.Contains(c.allowed, c.val) {
			return cfg, fmt.Errorf("reading KEYPROV_* configuration: %s must be one of %s, not %q", c.name, strings.Join(c.allowed, ", "), c.val)
		}
	}
	if cfg.WarnExpiry < 0 {
		return cfg, fmt.Errorf("reading KEYPROV_* configuration: KEYPROV_WARN_EXPIRY must not be negative, not %s", cfg.WarnExpiry)
	}
	// NO_COLOR disables colour when set to any value, even an empty one.
	_, cfg.NoColor = environ["NO_COLOR"]
	return cfg, nil
}

// namedParseErrors names the variable of each value that did not parse,
// which caarlos0/env names by the field of Config.
func namedParseErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
				name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				msgs = append(msgs, fmt.Sprintf("%s: %v", name, pe.Err))
				continue
			}
		}
		msgs = append(msgs, e.Error())
	}
	return namedError{strings.Join(msgs, "; "), err}
}

// namedError says msg and unwraps to err.
type namedError struct {
	msg string
	err error
}

func (e namedError) Error() string { return e.msg }
func (e namedError) Unwrap() error { return e.err }

func splitEnviron(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
