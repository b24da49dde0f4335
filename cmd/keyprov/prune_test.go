package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/spec"
)

func TestPruneResolve(t *testing.T) {
	yes, no := true, false
	tests := map[string]struct {
		flag     pruneMode // --prune's value, or KEYPROV_PRUNE's when not given
		given    bool
		settings spec.Settings
		prune    bool
		revoke   bool
	}{
		"nothing":                      {},
		"--prune":                      {flag: pruneDisable, given: true, prune: true},
		"--prune=revoke":               {flag: pruneRevoke, given: true, prune: true, revoke: true},
		"settings prune = true":        {settings: spec.Settings{Prune: &yes}, prune: true},
		"settings prune = \"revoke\"":  {settings: spec.Settings{Prune: &yes, PruneRevoke: true}, prune: true, revoke: true},
		"settings prune = false":       {settings: spec.Settings{Prune: &no}},
		"--prune=false over settings":  {flag: pruneOff, given: true, settings: spec.Settings{Prune: &yes, PruneRevoke: true}},
		"--prune over revoke settings": {flag: pruneDisable, given: true, settings: spec.Settings{Prune: &yes, PruneRevoke: true}, prune: true},
		"KEYPROV_PRUNE over settings":  {flag: pruneDisable, settings: spec.Settings{Prune: &yes, PruneRevoke: true}, prune: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := &pruneFlag{mode: tc.flag}
			prune, revoke := p.resolve(tc.given, tc.settings)
			assert.Equal(t, tc.prune, prune)
			assert.Equal(t, tc.revoke, revoke)
		})
	}
}

func TestParsePruneMode(t *testing.T) {
	for in, want := range map[string]pruneMode{"": pruneOff, "true": pruneDisable, "1": pruneDisable, "false": pruneOff,
		"disable": pruneDisable, "revoke": pruneRevoke, "REVOKE": pruneRevoke} {
		got, err := parsePruneMode(in)
		assert.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := parsePruneMode("burn")
	assert.Error(t, err)
}

func TestPruneValueSpaced(t *testing.T) {
	for args, want := range map[string]string{
		"--prune revoke":          "revoke",
		"-f keys.hcl -prune true": "true",
		"--prune=revoke":          "",
		"--prune -f keys.hcl":     "",
		"--prune plan.out":        "",
		"-- --prune revoke":       "",
	} {
		v, spaced := pruneValueSpaced(strings.Fields(args))
		assert.Equal(t, want != "", spaced, args)
		assert.Equal(t, want, v, args)
	}
}
