package pgtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// RecordName is the symbolic link, in a cluster directory that the
// server's user cannot enter, to the directory that holds the cluster.
const RecordName = "cluster"

// outsideBases are where a cluster goes when its directory is out of the
// server's user's reach: /var/tmp first, which a reboot keeps.
var outsideBases = []string{"/var/tmp", os.TempDir(), "/tmp"}

// Location returns the directory that holds the cluster of dir: the one
// its "cluster" link names (see Start), else dir itself.
func Location(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	target, err := os.Readlink(filepath.Join(abs, RecordName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return abs, nil
	case err != nil:
		return "", fmt.Errorf("pgtest: reading where the cluster of %s lives: %w", abs, err)
	}
	return target, nil
}

// placeDir returns the directory the cluster of dir lives in, creating
// what it needs: dir itself when the server's user can enter it (as
// before); otherwise the directory that dir's "cluster" link names, or a
// new one under /var/tmp, owned by the server's user, that the link then
// names. dir itself stays its creator's: it holds the URL file of
// `withpg start`, which names the superuser's password.
func (c *Cluster) placeDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", err
	}
	if c.cred == nil {
		return abs, nil
	}
	link := filepath.Join(abs, RecordName)
	if target, err := os.Readlink(link); err == nil {
		err := c.ownDir(target)
		if err == nil {
			return target, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("pgtest: %s names %s, which is not the cluster's: %w (remove the link to start afresh)", link, target, err)
		}
		// The directory is gone (a reboot emptied /tmp): make another.
		if err := os.Remove(link); err != nil {
			return "", err
		}
	}
	if err := c.chown(abs); err != nil {
		return "", err
	}
	if c.reachable(abs) {
		return abs, nil
	}
	// Keep dir its creator's, as it was: only the link goes in it.
	if err := os.Chown(abs, os.Geteuid(), os.Getegid()); err != nil {
		return "", err
	}
	out, err := c.newOutsideDir()
	if err != nil {
		return "", fmt.Errorf("pgtest: the %q user, which runs the server, cannot enter %s: %w", serverUser, abs, err)
	}
	if err := os.Symlink(out, link); err != nil {
		return "", err
	}
	return out, nil
}

// newOutsideDir makes a directory for a cluster that the server's user owns
// and can enter, under /var/tmp or /tmp.
func (c *Cluster) newOutsideDir() (string, error) {
	for _, base := range outsideBases {
		if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
			continue
		}
		d, err := os.MkdirTemp(base, "keyprov-pg-*")
		if err != nil {
			continue
		}
		if err := c.chown(d); err == nil && c.reachable(d) {
			return d, nil
		}
		_ = os.Remove(d)
	}
	return "", fmt.Errorf("no directory it can enter under %v", outsideBases)
}

// reachable reports whether the server's user can enter dir: it starts a
// PostgreSQL program there as that user, as initdb and pg_ctl will be.
func (c *Cluster) reachable(dir string) bool {
	if c.cred == nil {
		return true
	}
	cmd := exec.Command(filepath.Join(c.Bin, "pg_ctl"), "--version")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	cmd.Dir = dir
	return cmd.Run() == nil
}

// ownDir checks that dir is a directory of the server's user that no one
// else may enter, not a symbolic link.
func (c *Cluster) ownDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return errors.New("not a directory")
	case !ok || st.Uid != c.cred.Uid:
		return fmt.Errorf("not owned by the %q user", serverUser)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("mode %v: others may enter it", fi.Mode().Perm())
	}
	return nil
}

// serverUser runs the server when keyprov's tests run as root.
const serverUser = "postgres"
