package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

var versionCmd = &command{
	name:    "version",
	summary: "print the version and the Go build information",
	help:    `Prints keyprov's version, then the Go build information: Go version, module versions and VCS revision.`,
	run: func(ctx context.Context, a *app, c *command, args []string) int {
		fs := newFlagSet(c)
		if _, code, ok := fs.parse(a, args); !ok {
			return code
		}
		bi, ok := debug.ReadBuildInfo()
		v := version
		if v == "" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if v == "" {
			v = "dev"
		}
		fmt.Fprintf(a.out, "keyprov %s\n", v)
		if ok {
			fmt.Fprintf(a.out, "\n%s", bi.String())
		}
		return exitOK
	},
}
