package main

import (
	"fmt"
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
}

func loadConfig(environ map[string]string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: environ})
	if err != nil {
		return cfg, fmt.Errorf("reading KEYPROV_* configuration: %w", err)
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
	// NO_COLOR disables colour when set to any value, even an empty one.
	_, cfg.NoColor = environ["NO_COLOR"]
	return cfg, nil
}

func splitEnviron(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
