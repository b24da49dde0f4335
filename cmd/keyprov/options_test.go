package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptionsCheck: each command's check() refuses what its flags and
// arguments cannot mean together, with the usage error the command
// prints after "keyprov COMMAND: ", and fills what it derives.
func TestOptionsCheck(t *testing.T) {
	cfg, err := loadConfig(map[string]string{})
	require.NoError(t, err)
	tok := hostileTokens["TOKEN_A"]
	tests := map[string]struct {
		cmd     *command
		args    []string
		wantErr string // "" when check passes
		then    func(t *testing.T, o options)
	}{
		"list: no argument":             {cmd: listCmd, args: []string{"acme"}, wantErr: `unexpected argument "acme" (use --tenant or --owner to filter)`},
		"list: a token is not repeated": {cmd: listCmd, args: []string{tok}, wantErr: "unexpected argument " + notRepeated + " (use --tenant or --owner to filter)"},
		"history: one address": {cmd: historyCmd, args: []string{"acme/web", "--limit", "3"}, then: func(t *testing.T, o options) {
			f := o.(*historyOptions).filter
			assert.Equal(t, "acme", f.Tenant)
			assert.Equal(t, "web", f.Slug)
			assert.Equal(t, 3, f.Limit)
		}},
		"history: two addresses":   {cmd: historyCmd, args: []string{"a/b", "c/d"}, wantErr: "want at most one key address (tenant/slug)"},
		"history: a token address": {cmd: historyCmd, args: []string{tok}, wantErr: tokenAddressMessage},
		"verify: no argument":      {cmd: verifyCmd, args: []string{tok}, wantErr: "the token is read from standard input, never from arguments (other users can see command lines): keyprov verify < token.txt"},
		"verify: a token as tenant": {cmd: verifyCmd, args: []string{"--tenant", tok},
			wantErr: "--tenant looks like a token, not a tenant; it is not repeated here. The token is read from standard input: keyprov verify < token.txt"},
		"revoke: reason required": {cmd: revokeCmd, args: []string{"acme/web"}, wantErr: `--reason is required, e.g. --reason "leaked in build log"`},
		"revoke: one address":     {cmd: revokeCmd, args: []string{"a/b", "c/d", "--reason", "x"}, wantErr: "want one key address (tenant/slug), got 2 arguments"},
		"revoke: a token reason": {cmd: revokeCmd, args: []string{"a/b", "--reason", tok},
			wantErr: `--reason looks like it holds a token; it is not recorded, nor repeated here. Describe the leak instead, e.g. --reason "leaked in build log"`},
		"disable: reason required": {cmd: disableCmd, args: []string{"acme/web", "--reason", " "}, wantErr: `--reason is required, e.g. --reason "suspended: unpaid invoice"`},
		"enable: reason optional": {cmd: enableCmd, args: []string{"acme/web"}, then: func(t *testing.T, o options) {
			assert.Equal(t, "acme/web", o.(*switchOptions).addr.String())
			assert.False(t, o.(*switchOptions).disable)
		}},
		"show: one file":       {cmd: showCmd, args: nil, wantErr: "want one saved plan (keyprov plan -out FILE)\nRun \"keyprov show --help\" for usage."},
		"version: no argument": {cmd: versionCmd, args: []string{"x"}, wantErr: "takes no arguments\nRun \"keyprov version --help\" for usage."},
		"token new: prefix":    {cmd: tokenNewCmd, args: []string{"--prefix", "a b"}, wantErr: `invalid prefix "a b": use 1 to 32 letters, digits, '_' and '-'`},
		"fmt: the spec files by default": {cmd: fmtCmd, args: []string{"--check"}, then: func(t *testing.T, o options) {
			assert.Equal(t, []string{"keys.hcl"}, o.(*fmtOptions).paths)
			assert.True(t, o.(*fmtOptions).checkOnly)
		}},
		"validate: paths replace the default": {cmd: validateCmd, args: []string{"a.hcl"}, then: func(t *testing.T, o options) {
			assert.Equal(t, []string{"a.hcl"}, o.(*validateOptions).spec.files.vals)
		}},
		"validate: paths add to -f": {cmd: validateCmd, args: []string{"-f", "b.hcl", "a.hcl"}, then: func(t *testing.T, o options) {
			assert.Equal(t, []string{"b.hcl", "a.hcl"}, o.(*validateOptions).spec.files.vals)
		}},
		"scan: --all needs --history": {cmd: scanCmd, args: []string{"--all"}, wantErr: "--all and --since scan the history: add --history"},
		"scan: . by default": {cmd: scanCmd, args: nil, then: func(t *testing.T, o options) {
			assert.Equal(t, []string{"."}, o.(*scanOptions).args)
		}},
		"diff: BASE needed": {cmd: diffCmd, args: nil, wantErr: "want BASE and HEAD (or BASE alone, compared with the -f paths)\nRun \"keyprov diff --help\" for usage."},
		"plan: no argument": {cmd: planCmd, args: []string{"x"}, wantErr: `unexpected argument "x" (use -f to name the spec)`},
		"apply: a saved plan": {cmd: applyCmd, args: []string{"plan.json"}, then: func(t *testing.T, o options) {
			assert.Equal(t, "plan.json", o.(*reconcileOptions).savedPlan)
			assert.False(t, o.(*reconcileOptions).dry)
		}},
		"apply: a saved plan takes no spec": {cmd: applyCmd, args: []string{"plan.json", "-f", "keys.hcl"},
			wantErr: `"plan.json" is a saved plan, applied as it was computed: -f does not apply to it`},
		"apply: one saved plan": {cmd: applyCmd, args: []string{"a", "b"}, wantErr: `unexpected argument "a" (use -f to name the spec)`},
		"plan: the options of the run": {cmd: planCmd, args: []string{"--prune=revoke", "--max-prune", "5", "--strict"}, then: func(t *testing.T, o options) {
			ro := o.(*reconcileOptions)
			assert.True(t, ro.dry)
			assert.True(t, ro.given("prune"))
			assert.False(t, ro.given("adopt"))
			assert.Equal(t, pruneRevoke, ro.prune.mode)
			assert.Equal(t, 5, ro.maxPrune.v.N)
			assert.True(t, ro.strict)
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			fs := newFlagSet(tt.cmd)
			var (
				o   options
				pos *[]string
			)
			switch tt.cmd {
			case listCmd:
				lo := newListOptions(fs, cfg)
				o, pos = lo, &lo.args
			case historyCmd:
				ho := newHistoryOptions(fs, cfg)
				o, pos = ho, &ho.args
			case verifyCmd:
				vo := newVerifyOptions(fs, cfg)
				o, pos = vo, &vo.args
			case revokeCmd:
				ro := newRevokeOptions(fs, cfg)
				o, pos = ro, &ro.args
			case disableCmd, enableCmd:
				so := newSwitchOptions(fs, cfg, tt.cmd == disableCmd)
				o, pos = so, &so.args
			case showCmd:
				so := newShowOptions(fs, cfg)
				o, pos = so, &so.args
			case versionCmd:
				vo := newVersionOptions(fs)
				o, pos = vo, &vo.args
			case tokenNewCmd:
				to := newTokenNewOptions(fs)
				o, pos = to, &to.args
			case fmtCmd:
				fo := newFmtOptions(fs, cfg)
				o, pos = fo, &fo.paths
			case validateCmd:
				vo := newValidateOptions(fs, cfg)
				o, pos = vo, &vo.paths
			case scanCmd:
				so := newScanOptions(fs, cfg)
				o, pos = so, &so.args
			case diffCmd:
				do := newDiffOptions(fs, cfg)
				o, pos = do, &do.args
			case planCmd, applyCmd:
				ro := newReconcileOptions(fs, cfg, tt.cmd)
				o, pos = ro, &ro.args
			default:
				t.Fatalf("no options for %s", tt.cmd.name)
			}
			a := &app{environ: map[string]string{}, cfg: cfg}
			p, code, ok := fs.parse(a, tt.args)
			require.True(t, ok, "parse: exit %d", code)
			*pos = p
			err := o.check()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, err.Error())
				return
			}
			require.NoError(t, err)
			if tt.then != nil {
				tt.then(t, o)
			}
		})
	}
}
