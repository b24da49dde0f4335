// Package release has no code: its tests check how keyprov ships. The
// binaries of `make build` and `make dist` are static and stamped with their
// version; the image of the Containerfile (`make image`) is minimal, runs as
// user 65532 and applies a spec against a real PostgreSQL; and the
// Kubernetes example in examples/kubernetes is consistent with the image
// and the spec it applies.
//
// The image test needs podman or buildah (Debian: apt-get install podman;
// .ci/run installs it): without them it fails, it never skips.
package release
