package main

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notForDeployments are the flags of plan and apply that have no
// KEYPROV_* variable, each with the reason: a deployment does not set them.
var notForDeployments = map[string]string{
	"adopt":             "a one-time decision to take over keys, made for one run after review: left set, a pod would silently take over any key of the same identity",
	"detailed-exitcode": "plan's exit status for a script that asks whether there are changes",
	"output":            "the format of the plan for its reader; a deployment reads the logs",
	"max-lines":         "the length of the text plan for people",
	"out":               "the file of one saved plan, named for the run that writes it",
	"plan-max-age":      "given with the saved plan it bounds, on the command line that applies it",
}

// envSamples are a value for each variable that feeds a flag of plan or
// apply, and how the flag's help shows it as the default.
var envSamples = map[string][2]string{
	"KEYPROV_FILE":               {"a.hcl,b.hcl", "a.hcl,b.hcl"},
	"KEYPROV_VARFILE":            {"x.json,y.tfvars", "x.json,y.tfvars"},
	"KEYPROV_SCHEMA":             {"other", "other"},
	"KEYPROV_WAIT":               {"7s", "7s"},
	"KEYPROV_CONNECT_TIMEOUT":    {"3s", "3s"},
	"KEYPROV_LOCK_TIMEOUT":       {"90s", "1m30s"},
	"KEYPROV_QUERY_MODE":         {"simple", "simple"},
	"KEYPROV_PRUNE":              {"revoke", "revoke"},
	"KEYPROV_STRICT":             {"true", "true"},
	"KEYPROV_MAX_PRUNE":          {"7%", "7%"},
	"KEYPROV_WARN_EXPIRY":        {"48h", "48h0m0s"},
	"KEYPROV_FAIL_ON":            {"high", "high"},
	"KEYPROV_FULL_READ":          {"true", "true"},
	"KEYPROV_FULL":               {"true", "true"},
	"KEYPROV_ALLOW_NEW_PREVIOUS": {"true", "true"},
	"KEYPROV_LOG_LEVEL":          {"warn", "warn"},
	"KEYPROV_LOG_FORMAT":         {"console", "console"},
}

// envWithoutDefault are variables whose flag shows no default: the
// database URL is a secret (TestDatabaseURLSources covers it), and
// KEYPROV_VAR_<name> sets variables, not a flag's default.
var envWithoutDefault = []string{"KEYPROV_DATABASE_URL", "KEYPROV_DATABASE_URL_FILE", "KEYPROV_VAR_<name>"}

// helpFlags runs COMMAND --help with environ and returns each flag's help
// text (its usage and default), by long name.
func helpFlags(t *testing.T, command string, environ []string) map[string]string {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{command, "--help"}, stdio{strings.NewReader(""), &out, &errOut}, environ)
	require.Equal(t, 0, code, errOut.String())
	flags := map[string]string{}
	head := regexp.MustCompile(`^  (?:-[a-z], )?--([a-z-]+)`)
	last := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if m := head.FindStringSubmatch(line); m != nil {
			last = m[1]
			flags[last] = ""
			continue
		}
		if last != "" && strings.HasPrefix(line, "      ") {
			flags[last] += strings.TrimSpace(line)
		}
	}
	require.NotEmpty(t, flags, "no flags in %s --help:\n%s", command, out.String())
	return flags
}

// configVariables are the variables Config reads, from its env tags.
func configVariables() []string {
	var out []string
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("env"), ","); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// readmeSettings parses the table of README.md's "Configuration" section:
// each variable with its Flag cell.
func readmeSettings(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	text := string(b)
	start := strings.Index(text, "\n## Configuration\n")
	require.GreaterOrEqual(t, start, 0, "README.md has no Configuration section")
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	rows := map[string]string{}
	cell := regexp.MustCompile("^`([A-Z_<>a-z]+)`$")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		require.GreaterOrEqual(t, len(cells), 3, "a row of the configuration table: %s", line)
		m := cell.FindStringSubmatch(strings.TrimSpace(cells[0]))
		require.NotNil(t, m, "the first cell of a row of the configuration table names one variable: %s", line)
		rows[m[1]] = strings.TrimSpace(cells[1])
	}
	require.NotEmpty(t, rows, "no rows in README.md's configuration table")
	return rows
}

// TestEverySettingFromTheEnvironment checks that every flag of plan and
// apply that a deployment would set has a KEYPROV_* variable: its help
// names it, Config reads it (through caarlos0/env), setting it changes the
// flag's default, and README.md's configuration table lists it with the
// flag. And every variable Config reads is in that table.
func TestEverySettingFromTheEnvironment(t *testing.T) {
	readme := readmeSettings(t)
	vars := configVariables()
	for _, v := range vars {
		_, listed := readme[v]
		assert.True(t, listed, "README.md's configuration table lists %s, which keyprov reads", v)
	}
	for v := range readme {
		if v != "KEYPROV_VAR_<name>" {
			assert.Contains(t, vars, v, "README.md lists %s, which Config does not read", v)
		}
	}

	named := regexp.MustCompile(`KEYPROV_[A-Z_]+(?:<name>)?`)
	seen := map[string]bool{}
	for _, command := range []string{"plan", "apply"} {
		flags := helpFlags(t, command, nil)
		for name := range flags {
			seen[name] = true
		}
		names := make([]string, 0, len(flags))
		for name := range flags {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if _, ok := notForDeployments[name]; ok {
				continue
			}
			found := named.FindAllString(flags[name], -1)
			if !assert.NotEmpty(t, found, "%s --%s names no KEYPROV_* variable in its help: add one to Config, or to notForDeployments with the reason", command, name) {
				continue
			}
			v := found[0]
			if v != "KEYPROV_VAR_<name>" {
				assert.Contains(t, vars, v, "%s --%s names %s, which Config does not read", command, name, v)
			}
			if _, listed := readme[v]; assert.True(t, listed, "README.md's configuration table lists %s (%s --%s)", v, command, name) {
				assert.Contains(t, readme[v], "--"+name, "README.md's row of %s names its flag --%s", v, name)
			}
			if slices.Contains(envWithoutDefault, v) {
				continue
			}
			sample, ok := envSamples[v]
			if !assert.True(t, ok, "envSamples has no value of %s to test --%s with", v, name) {
				continue
			}
			got := helpFlags(t, command, []string{v + "=" + sample[0]})[name]
			assert.Contains(t, got, "(default "+sample[1]+")", "%s=%s sets the default of %s --%s", v, sample[0], command, name)
		}
	}
	for name := range notForDeployments {
		assert.True(t, seen[name], "notForDeployments names --%s, which neither plan nor apply has", name)
	}
}

// A value that does not parse names its variable; a value outside a
// setting's set names the values it takes.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	tests := map[string]struct{ env, want string }{
		"duration":  {"KEYPROV_WARN_EXPIRY=soon", `KEYPROV_WARN_EXPIRY: unable to parse duration`},
		"negative":  {"KEYPROV_WARN_EXPIRY=-1h", "KEYPROV_WARN_EXPIRY must not be negative"},
		"max prune": {"KEYPROV_MAX_PRUNE=lots", "KEYPROV_MAX_PRUNE: want a number of keys (10) or a percentage"},
		"bool":      {"KEYPROV_STRICT=maybe", "KEYPROV_STRICT: "},
		"fail on":   {"KEYPROV_FAIL_ON=severe", `KEYPROV_FAIL_ON must be one of none, risk, low, medium, high, critical, not "severe"`},
		"format":    {"KEYPROV_LOG_FORMAT=xml", `KEYPROV_LOG_FORMAT must be one of auto, json, console, not "xml"`},
		"level":     {"KEYPROV_LOG_LEVEL=loud", `KEYPROV_LOG_LEVEL must be one of`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"plan"}, stdio{strings.NewReader(""), &out, &errOut}, []string{tc.env})
			assert.Equal(t, exitInvalid, code)
			assert.Contains(t, errOut.String(), tc.want)
		})
	}
	cfg, err := loadConfig(map[string]string{"KEYPROV_VARFILE": "a.json,b.tfvars", "KEYPROV_WARN_EXPIRY": "72h", "KEYPROV_MAX_PRUNE": "5"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a.json", "b.tfvars"}, cfg.VarFiles)
	assert.Equal(t, 72*time.Hour, cfg.WarnExpiry)
	assert.Equal(t, "5", cfg.MaxPrune.String())
	cfg, err = loadConfig(map[string]string{})
	require.NoError(t, err)
	assert.Equal(t, 14*24*time.Hour, cfg.WarnExpiry, "two weeks by default")
	assert.Equal(t, "none", cfg.FailOn)
}
