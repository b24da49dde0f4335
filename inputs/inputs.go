// Package inputs computes the input digest of a plan or an apply: one
// digest of everything its outcome depends on besides the store (which
// the store's change counter stands for) and the clock. That is the
// identity of the keyprov build, the settings that change a plan, and
// what evaluating the spec read (spec.Inputs: the spec and variable
// files, the environment variables and files token references read).
// Two runs with the same digest, against a store at the same change
// counter, before the record's time bound, compute the same plan.
package inputs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
)

// Digest is an input digest.
type Digest [sha256.Size]byte

// Hex returns the digest in hexadecimal.
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// Of returns the input digest of a run: build is the keyprov build
// (Build), settings the settings that change a plan as "name=value" (any
// order), spec the digest of what evaluation read (spec.Inputs.Digest).
func Of(build string, settings []string, spec [sha256.Size]byte) Digest {
	h := sha256.New()
	writeString(h, "keyprov input digest 1")
	writeString(h, build)
	sorted := slices.Clone(settings)
	slices.Sort(sorted)
	writeUint(h, uint64(len(sorted)))
	for _, s := range sorted {
		writeString(h, s)
	}
	h.Write(spec[:])
	var d Digest
	h.Sum(d[:0])
	return d
}

func writeUint(h hash.Hash, n uint64) {
	var b [binary.MaxVarintLen64]byte
	h.Write(b[:binary.PutUvarint(b[:], n)])
}

// writeString writes s with its length first, so that no two lists of
// strings write the same bytes.
func writeString(h hash.Hash, s string) {
	writeUint(h, uint64(len(s)))
	io.WriteString(h, s)
}

// Build identifies the code of this keyprov: any change to it changes
// the identity. version is the version string the build was stamped with
// (-ldflags -X main.version=…); the rest comes from the Go toolchain's
// build information: the Go version, the platform, the build settings
// (flags, tags, the VCS revision) and every module's version and sum. A
// build from a commit without local changes is told by its revision; one
// with changes (vcs.modified, a -dirty build), or without VCS information
// (-buildvcs=false, a test binary), by the SHA-256 of its own executable,
// read once per process.
func Build(version string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "version=%s\ngo=%s\nplatform=%s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	bi, ok := debug.ReadBuildInfo()
	byRevision := false
	if ok {
		fmt.Fprintf(&b, "path=%s\nmain=%s@%s %s\n", bi.Path, bi.Main.Path, bi.Main.Version, bi.Main.Sum)
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
			fmt.Fprintf(&b, "setting %s=%s\n", s.Key, s.Value)
		}
		for _, m := range bi.Deps {
			fmt.Fprintf(&b, "dep %s@%s %s\n", m.Path, m.Version, m.Sum)
			if m.Replace != nil {
				fmt.Fprintf(&b, "  => %s@%s %s\n", m.Replace.Path, m.Replace.Version, m.Replace.Sum)
			}
		}
		byRevision = settings["vcs.revision"] != "" && settings["vcs.modified"] == "false"
	}
	if !byRevision {
		sum, err := executableSum()
		if err != nil {
			return "", fmt.Errorf("identifying keyprov's build: %w", err)
		}
		fmt.Fprintf(&b, "executable=%s\n", sum)
	}
	return b.String(), nil
}

var executableSum = sync.OnceValues(func() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
})
