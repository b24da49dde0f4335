// Command withpg runs a command next to a throwaway PostgreSQL cluster, or
// starts and stops the persistent local cluster of `make run`.
//
//	withpg run [-durable] -- CMD [ARG...]   start a cluster, run CMD with
//	                                        KEYPROV_TEST_DATABASE_URL set, remove the cluster
//	withpg start -dir DIR                   start (creating if needed) the cluster in DIR
//	                                        and write its URL to DIR/url (mode 0600); as
//	                                        root, when the postgres user cannot enter DIR,
//	                                        the cluster lives under /var/tmp, DIR/cluster
//	                                        links to it
//	withpg bin                              print the directory of the PostgreSQL server
//	                                        binaries, or fail saying what to install
//	withpg stop -dir DIR                    stop the cluster in DIR
//
// With KEYPROV_TEST_DATABASE_URL already set, "run" starts nothing.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/keyprov/keyprov/internal/pgtest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: withpg run|start|stop|bin ...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "cluster directory")
	durable := fs.Bool("durable", false, "keep fsync on")
	_ = fs.Parse(os.Args[2:])
	var err error
	code := 0
	switch os.Args[1] {
	case "run":
		code, err = runWith(*durable, fs.Args())
	case "start":
		err = start(*dir, *durable)
	case "stop":
		err = stop(*dir)
	case "bin":
		var bin string
		if bin, err = pgtest.FindBin(); err == nil {
			fmt.Println(bin)
		}
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "withpg:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func runWith(durable bool, args []string) (int, error) {
	if len(args) == 0 {
		return 2, errors.New("run: no command")
	}
	env := os.Environ()
	var c *pgtest.Cluster
	if os.Getenv(pgtest.EnvURL) == "" {
		var err error
		c, err = pgtest.Start(pgtest.Options{Durable: durable})
		if err != nil {
			return 1, err
		}
		fmt.Fprintf(os.Stderr, "withpg: PostgreSQL started on 127.0.0.1:%d (%s)\n", c.Port, c.Dir)
		env = append(env, pgtest.EnvURL+"="+c.URL("postgres"), "KEYPROV_TEST_PG_DIR="+c.Dir)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = os.Stdin, os.Stdout, os.Stderr, env
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	err := cmd.Start()
	if err == nil {
		go func() {
			for s := range sigs {
				_ = cmd.Process.Signal(s)
			}
		}()
		err = cmd.Wait()
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
		if code < 0 {
			code = 1
		}
	}
	if c != nil {
		if stopErr := c.Stop(true); stopErr != nil && err == nil {
			err = stopErr
		} else {
			fmt.Fprintln(os.Stderr, "withpg: PostgreSQL stopped and removed")
		}
	}
	return code, err
}

func start(dir string, durable bool) error {
	if dir == "" {
		return errors.New("start: -dir is required")
	}
	c, err := pgtest.Start(pgtest.Options{Dir: dir, Durable: durable})
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	urlFile := filepath.Join(abs, "url")
	if err := os.WriteFile(urlFile, []byte(c.URL("postgres")+"\n"), 0o600); err != nil {
		return err
	}
	if c.Dir != abs {
		fmt.Fprintf(os.Stderr, "withpg: the postgres user, which runs the server, cannot enter %s: the cluster lives in %s (%s links to it)\n",
			abs, c.Dir, filepath.Join(dir, pgtest.RecordName))
	}
	fmt.Fprintf(os.Stderr, "withpg: PostgreSQL running on 127.0.0.1:%d, data in %s (make stop stops it)\n", c.Port, c.DataDir())
	return nil
}

func stop(dir string) error {
	if dir == "" {
		return errors.New("stop: -dir is required")
	}
	loc, err := pgtest.Location(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(loc, "data", "PG_VERSION")); err != nil {
		fmt.Fprintln(os.Stderr, "withpg: no cluster in", loc)
		return nil
	}
	c, err := pgtest.Attach(dir)
	if err != nil {
		return err
	}
	return c.Stop(false)
}
