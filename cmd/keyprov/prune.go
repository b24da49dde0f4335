package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyprov/keyprov/spec"
)

// pruneMode is what a prune does to the owned keys the spec no longer
// declares: nothing (""), disable them, keeping their tokens, or revoke
// them, retiring their tokens for ever.
type pruneMode string

const (
	pruneOff     pruneMode = ""
	pruneDisable pruneMode = "disable"
	pruneRevoke  pruneMode = "revoke"
)

// parsePruneMode parses the value of --prune=VALUE and KEYPROV_PRUNE: a
// bool (true disables), "disable" or "revoke".
func parsePruneMode(s string) (pruneMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return pruneOff, nil
	case string(pruneDisable):
		return pruneDisable, nil
	case string(pruneRevoke):
		return pruneRevoke, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return pruneOff, errors.New("want true (disable the keys the spec no longer declares), false, or revoke (revoke them)")
	}
	if b {
		return pruneDisable, nil
	}
	return pruneOff, nil
}

// UnmarshalText reads KEYPROV_PRUNE.
func (m *pruneMode) UnmarshalText(b []byte) error {
	v, err := parsePruneMode(string(b))
	if err != nil {
		return fmt.Errorf("KEYPROV_PRUNE: %w, not %s", err, quoteArg(string(b)))
	}
	*m = v
	return nil
}

// pruneFlag is --prune: alone it disables (a bool flag), --prune=revoke
// revokes, --prune=false turns off a prune the spec or KEYPROV_PRUNE asks
// for.
type pruneFlag struct {
	mode pruneMode
}

func (p *pruneFlag) IsBoolFlag() bool { return true }

func (p *pruneFlag) String() string {
	if p == nil || p.mode == pruneOff {
		return "false"
	}
	return string(p.mode)
}

func (p *pruneFlag) Set(s string) error {
	m, err := parsePruneMode(s)
	if err != nil {
		return err
	}
	p.mode = m
	return nil
}

// resolve returns what the run's prune does: --prune when given, else
// KEYPROV_PRUNE when it prunes, else the spec's settings { prune }.
func (p *pruneFlag) resolve(given bool, s spec.Settings) (prune, revoke bool) {
	m := p.mode
	if !given && m == pruneOff {
		switch {
		case s.PruneRevoke:
			m = pruneRevoke
		case s.Prune != nil && *s.Prune:
			m = pruneDisable
		}
	}
	return m != pruneOff, m == pruneRevoke
}

// pruneValueSpaced reports whether args give --prune a value after a
// space (--prune revoke): the flag is a bool, so the value would be taken
// for an argument. It returns the value.
func pruneValueSpaced(args []string) (string, bool) {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--" {
			return "", false
		}
		if args[i] != "--prune" && args[i] != "-prune" {
			continue
		}
		if _, err := parsePruneMode(args[i+1]); err == nil && args[i+1] != "" {
			return args[i+1], true
		}
	}
	return "", false
}
