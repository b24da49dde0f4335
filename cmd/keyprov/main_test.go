package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testutil"
)

// testingM stops the shared PostgreSQL cluster after the tests ran, and
// removes the keyprov binary that the process tests built.
type testingM struct{ m *testing.M }

func (t testingM) Run() int {
	code := t.m.Run()
	pgtest.StopShared()
	removeTestBinary()
	return code
}

func TestMain(m *testing.M) {
	testscript.Main(testingM{m}, map[string]func(){
		"keyprov": func() {
			os.Exit(runAt(context.Background(), os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr}, os.Environ(), testClock()))
		},
	})
}

// testClock is the clock of the keyprov command in scripts: the time in
// $KEYPROV_TEST_NOW (RFC 3339) when set, so that a script can say what day
// it is; else the real one. Only the test binary reads the variable.
func testClock() func() time.Time {
	v := os.Getenv("KEYPROV_TEST_NOW")
	if v == "" {
		return time.Now
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "KEYPROV_TEST_NOW: %v\n", err)
		os.Exit(2)
	}
	return func() time.Time { return t }
}

// TestScripts runs the end-to-end CLI scripts in testdata/script: each runs
// the keyprov binary against its own empty PostgreSQL database
// ($KEYPROV_DATABASE_URL) and asserts its output and exit codes.
func TestScripts(t *testing.T) {
	testscript.Run(t, ScriptParams(t, "testdata/script"))
}

// ScriptParams are the testscript parameters shared by the script suites.
func ScriptParams(t *testing.T, dir string) testscript.Params {
	return testscript.Params{
		Dir:           dir,
		UpdateScripts: testutil.Update(),
		Setup: func(env *testscript.Env) error {
			admin, err := pgtest.Shared()
			if err != nil {
				return fmt.Errorf("no PostgreSQL for the scripts: %w", err)
			}
			u, drop, err := pgtest.CreateDatabase(admin, "script")
			if err != nil {
				return err
			}
			env.Defer(func() {
				if err := drop(); err != nil {
					env.T().Log(err)
				}
			})
			env.Setenv("KEYPROV_DATABASE_URL", u)
			env.Setenv("ADMIN_DATABASE_URL", admin)
			env.Setenv("KEYPROV_WAIT", "5s")
			env.Setenv("KEYPROV_ACTOR", "tester")
			// auto: JSON log lines next to the messages for people, which
			// the scripts read (json_logs.txtar runs with json).
			env.Setenv("KEYPROV_LOG_FORMAT", "auto")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sql":     cmdSQL,
			"settime": cmdSetTime,
			"exits":   cmdExits,
		},
	}
}

// cmdSQL runs one SQL statement against $KEYPROV_DATABASE_URL and prints
// the rows, tab-separated, one per line:
//
//	sql 'SELECT tenant, slug FROM keyprov.keys ORDER BY 1, 2'
func cmdSQL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: sql 'STATEMENT'")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ts.Getenv("KEYPROV_DATABASE_URL"))
	if err != nil {
		ts.Fatalf("sql: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, args[0], pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		if neg {
			return
		}
		ts.Fatalf("sql: %v", err)
	}
	var out strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			ts.Fatalf("sql: %v", err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = fmt.Sprint(v)
			if v == nil {
				cells[i] = "NULL"
			}
		}
		out.WriteString(strings.Join(cells, "\t") + "\n")
	}
	err = rows.Err()
	if neg {
		if err == nil {
			ts.Fatalf("sql: unexpected success")
		}
		return
	}
	if err != nil {
		ts.Fatalf("sql: %v", err)
	}
	_, _ = ts.Stdout().Write([]byte(out.String()))
}

// cmdSetTime sets an environment variable to the current time plus a
// duration, in RFC 3339, so that scripts can declare times relative to now:
//
//	settime SOON 72h
//	settime PAST -1h
func cmdSetTime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: settime NAME DURATION")
	}
	d, err := time.ParseDuration(args[1])
	if err != nil {
		ts.Fatalf("settime: %v", err)
	}
	ts.Setenv(args[0], time.Now().Add(d).UTC().Format(time.RFC3339))
}

// cmdExits runs a program as exec does (its output is checked the same
// way) and fails unless it exits with the given status:
//
//	exits 4 keyprov apply
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: status %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
