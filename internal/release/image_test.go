package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/token"
)

// imageTool is podman or buildah, with a storage of the test's own, so that
// the test neither needs nor touches the machine's images.
type imageTool struct {
	name  string
	flags []string
}

const installImageTool = "apt-get install podman (or buildah); .ci/run installs it"

// findImageTool returns $IMAGE_TOOL, else podman, else buildah. The test
// fails without one: the image is part of what keyprov ships.
func findImageTool(t *testing.T) imageTool {
	t.Helper()
	name := os.Getenv("IMAGE_TOOL")
	if name == "" {
		for _, n := range []string{"podman", "buildah"} {
			if _, err := exec.LookPath(n); err == nil {
				name = n
				break
			}
		}
	}
	if name == "" {
		t.Fatalf("the image test needs podman or buildah, and this machine has neither: %s", installImageTool)
	}
	_, err := exec.LookPath(name)
	require.NoError(t, err, "IMAGE_TOOL=%s: %s", name, installImageTool)
	dir := t.TempDir()
	flags := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}
	if filepath.Base(name) == "podman" {
		flags = append(flags, "--tmpdir", filepath.Join(dir, "tmp"))
	}
	return imageTool{name: name, flags: flags}
}

func (it imageTool) podman() bool { return filepath.Base(it.name) == "podman" }

func (it imageTool) run(t *testing.T, args ...string) string {
	t.Helper()
	return command(t, "", baseEnv(), it.name, append(slicesClone(it.flags), args...)...)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// imageConfig is the image's configuration, as podman image inspect or
// buildah inspect show it.
type imageConfig struct {
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	Labels     map[string]string
	OS, Arch   string
	Size       int64 // -1: the tool does not say
}

func (it imageTool) inspect(t *testing.T, image string) imageConfig {
	t.Helper()
	type config struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		Labels     map[string]string `json:"Labels"`
	}
	if it.podman() {
		var docs []struct {
			Config       config            `json:"Config"`
			Labels       map[string]string `json:"Labels"`
			Os           string            `json:"Os"`
			Architecture string            `json:"Architecture"`
			Size         int64             `json:"Size"`
		}
		require.NoError(t, json.Unmarshal([]byte(it.run(t, "image", "inspect", image)), &docs))
		require.Len(t, docs, 1)
		d := docs[0]
		return imageConfig{d.Config.User, d.Config.Entrypoint, d.Config.Cmd, d.Config.Env, d.Labels, d.Os, d.Architecture, d.Size}
	}
	var doc struct {
		OCIv1 struct {
			Config       config `json:"config"`
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
		} `json:"OCIv1"`
	}
	require.NoError(t, json.Unmarshal([]byte(it.run(t, "inspect", "--type", "image", image)), &doc))
	c := doc.OCIv1.Config
	return imageConfig{c.User, c.Entrypoint, c.Cmd, c.Env, c.Labels, doc.OCIv1.OS, doc.OCIv1.Architecture, -1}
}

// save writes the image as a docker-archive and returns its path.
func (it imageTool) save(t *testing.T, image string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "image.tar")
	if it.podman() {
		it.run(t, "save", "--format", "docker-archive", "-o", file, image)
	} else {
		it.run(t, "push", image, "docker-archive:"+file+":"+image)
	}
	return file
}

// rootFS is the image's root filesystem, extracted.
type rootFS struct {
	dir   string
	files map[string]int64 // regular files and their sizes, by path
	size  int64            // the layers' bytes, uncompressed
}

// extract unpacks the layers of a docker-archive, in order, into a new
// directory, keeping modes and owners.
func extract(t *testing.T, archive string) rootFS {
	t.Helper()
	entries := map[string][]byte{}
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			entries[path.Clean(h.Name)] = b
		}
	}
	var manifest []struct {
		Layers []string `json:"Layers"`
	}
	require.NoError(t, json.Unmarshal(entries["manifest.json"], &manifest), "the archive's manifest.json")
	require.Len(t, manifest, 1)

	fs := rootFS{dir: filepath.Join(t.TempDir(), "rootfs"), files: map[string]int64{}}
	require.NoError(t, os.Mkdir(fs.dir, 0o755))
	for _, name := range manifest[0].Layers {
		layer, ok := entries[path.Clean(name)]
		require.True(t, ok, "layer %s in the archive", name)
		var r io.Reader = bytes.NewReader(layer)
		if bytes.HasPrefix(layer, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(r)
			require.NoError(t, err)
			r = zr
		}
		lt := tar.NewReader(r)
		for {
			h, err := lt.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			name := path.Clean(strings.TrimPrefix(h.Name, "./"))
			require.False(t, name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name), "layer entry %q", h.Name)
			require.False(t, strings.HasPrefix(path.Base(name), ".wh."), "a whiteout %q: no layer removes files", h.Name)
			if name == "." {
				continue
			}
			dst := filepath.Join(fs.dir, filepath.FromSlash(name))
			switch h.Typeflag {
			case tar.TypeDir:
				require.NoError(t, os.MkdirAll(dst, 0o755))
				require.NoError(t, os.Chmod(dst, os.FileMode(h.Mode).Perm()))
			case tar.TypeReg:
				require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
				b, err := io.ReadAll(lt)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(dst, b, 0o600))
				require.NoError(t, os.Chmod(dst, os.FileMode(h.Mode).Perm()))
				fs.files[name] = int64(len(b))
			default:
				t.Fatalf("layer entry %q of type %c: the image holds only files and directories", h.Name, h.Typeflag)
			}
			if os.Geteuid() == 0 {
				require.NoError(t, os.Lchown(dst, h.Uid, h.Gid))
			}
		}
		fs.size += int64(len(layer))
	}
	return fs
}

// podRunner runs the image's entrypoint with arguments, the environment
// and the files of the Kubernetes example's pod.
type podRunner interface {
	run(t *testing.T, args, env []string, stdin string) (code int, stdout, stderr string)
	how() string
}

// podmanRunner runs the image with podman run, host networking, the pod's
// files mounted read-only, and the init container's security context.
type podmanRunner struct {
	tool    imageTool
	image   string
	volumes []string // --volume values
	flags   []string
}

func (r podmanRunner) how() string { return "podman run" }

func (r podmanRunner) run(t *testing.T, args, env []string, stdin string) (int, string, string) {
	t.Helper()
	a := append(slicesClone(r.tool.flags), "run", "--rm", "-i", "--network", "host")
	a = append(a, r.flags...)
	for _, v := range r.volumes {
		a = append(a, "--volume", v)
	}
	for _, kv := range env {
		a = append(a, "--env", kv)
	}
	a = append(append(a, r.image), args...)
	return commandCode(t, "", baseEnv(), stdin, r.tool.name, a...)
}

// chrootRunner runs /keyprov of the extracted root filesystem, chrooted
// into it as the image's user, on this machine's network: what a container
// runtime does, less the namespaces. It needs root.
type chrootRunner struct {
	fs         rootFS
	uid, gid   uint32
	groups     []uint32
	imageEnv   []string
	entrypoint []string
}

func (r chrootRunner) how() string { return "chroot into the image's root filesystem" }

func (r chrootRunner) run(t *testing.T, args, env []string, stdin string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.entrypoint[0], append(slicesClone(r.entrypoint[1:]), args...)...)
	cmd.Dir = "/"
	cmd.Env = append(slicesClone(r.imageEnv), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     r.fs.dir,
		Credential: &syscall.Credential{Uid: r.uid, Gid: r.gid, Groups: r.groups},
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errb.String()
	}
	require.NoError(t, err, "running %s in %s", r.entrypoint[0], r.fs.dir)
	return 0, out.String(), errb.String()
}

// userOf parses the image's USER, "uid:gid" in numbers.
func userOf(t *testing.T, user string) (uint32, uint32) {
	t.Helper()
	u, g, ok := strings.Cut(user, ":")
	require.True(t, ok, "USER %q is uid:gid", user)
	uid, err := strconv.ParseUint(u, 10, 32)
	require.NoError(t, err)
	gid, err := strconv.ParseUint(g, 10, 32)
	require.NoError(t, err)
	return uint32(uid), uint32(gid)
}

// TestImage builds the image with make image and checks it: its config
// (user 65532, entrypoint, OCI labels, under 30 MB), its files (the static
// binary, the CA certificates, passwd; nothing else), and that it runs the
// init container of examples/kubernetes against a real PostgreSQL: apply,
// apply again (nothing to do), and verify a token. It runs the image with
// podman run where this machine allows it, else chrooted into the image's
// root filesystem.
func TestImage(t *testing.T) {
	tool := findImageTool(t)
	ex := loadK8sExample(t)
	const image = "localhost/keyprov:test"
	command(t, root, baseEnv(), "make", "--no-print-directory", "image",
		"IMAGE_TOOL="+tool.name, "IMAGE_FLAGS="+strings.Join(tool.flags, " "),
		"IMAGE="+image, "IMAGE_DIR="+filepath.Join(t.TempDir(), "context"))

	// The config.
	cfg := tool.inspect(t, image)
	assert.Equal(t, "65532:65532", cfg.User)
	assert.Equal(t, []string{"/keyprov"}, cfg.Entrypoint)
	assert.Empty(t, cfg.Cmd)
	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, runtime.GOARCH, cfg.Arch)
	version := cfg.Labels["org.opencontainers.image.version"]
	assert.Regexp(t, `^`+regexp.QuoteMeta(release(t))+`(-|$)`, version)
	assert.Regexp(t, `^[0-9a-f]{40}$`, cfg.Labels["org.opencontainers.image.revision"])
	assert.Equal(t, "https://github.com/keyprov/keyprov", cfg.Labels["org.opencontainers.image.source"])
	const maxSize = 30 << 20
	if cfg.Size >= 0 {
		assert.Less(t, cfg.Size, int64(maxSize), "image size")
	}

	// The files.
	fs := extract(t, tool.save(t, image))
	t.Logf("image: %d bytes, %d files", fs.size, len(fs.files))
	assert.Less(t, fs.size, int64(maxSize), "the layers' size")
	var files []string
	for f := range fs.files {
		files = append(files, f)
	}
	sort.Strings(files)
	assert.Equal(t, []string{"etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "keyprov"}, files, "the image holds these files and nothing else")
	assertStatic(t, filepath.Join(fs.dir, "keyprov"), runtime.GOARCH)
	passwd, err := os.ReadFile(filepath.Join(fs.dir, "etc/passwd"))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^nonroot:x:65532:65532:`, string(passwd))
	assertCABundle(t, filepath.Join(fs.dir, "etc/ssl/certs/ca-certificates.crt"))

	// The pod's files (the spec, and the URL of a database of the test's
	// own) and a new token for each entry of the tokens' Secret.
	dbURL := pgtest.NewDatabase(t)
	values := map[string]string{}
	for _, f := range ex.files {
		switch {
		case f.secret == "keyprov-db" && f.key == "url":
			values[f.path] = dbURL + "\n" // as kubectl create secret --from-file would
		case f.secret != "":
			t.Fatalf("the test does not know what the Secret %s holds", f.secret)
		default:
			values[f.path] = f.data
		}
	}
	tokens := map[string]string{}
	for key := range ex.secrets["keyprov-tokens"] {
		tok, err := token.Generate(token.DefaultPrefix)
		require.NoError(t, err)
		tokens[key] = tok.Reveal()
	}
	uid, gid := userOf(t, cfg.User)
	sc := ex.init.SecurityContext
	require.Equal(t, int64(uid), deref(sc.RunAsUser))
	fsGroup := uint32(deref(ex.podSC.FSGroup))

	runner := podRunnerFor(t, tool, image, ex, values, cfg, fs, uid, gid, fsGroup)
	t.Logf("running the image: %s", runner.how())
	secretsOf := func(s string) {
		t.Helper()
		for k, tok := range tokens {
			assert.NotContains(t, s, tok, "the token of %s in the output", k)
		}
		if u, err := pgx.ParseConfig(dbURL); assert.NoError(t, err) && u.Password != "" {
			assert.NotContains(t, s, u.Password, "the database password in the output")
		}
	}

	// keyprov version: the labels' version.
	code, stdout, stderr := runner.run(t, []string{"version"}, nil, "")
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.True(t, strings.HasPrefix(stdout, "keyprov "+version+" (linux/"+runtime.GOARCH+", go"), "%q", stdout)
	code, stdout, stderr = runner.run(t, []string{"version", "-o", "json"}, nil, "")
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	var doc versionDoc
	require.NoError(t, json.Unmarshal([]byte(stdout), &doc))
	assert.Equal(t, cfg.Labels["org.opencontainers.image.revision"], doc.Commit)

	// The init container, as the Deployment runs it.
	const pod = "api-5d8f7c9b6-x2x7q"
	env := ex.env(t, pod, func(name, key string) string {
		require.Equal(t, "keyprov-tokens", name, "the test does not know what the Secret %s holds", name)
		require.Contains(t, tokens, key)
		return tokens[key]
	})
	code, stdout, stderr = runner.run(t, ex.init.Args, env, "")
	require.Equal(t, 0, code, "the init container failed:\n%s%s", stdout, stderr)
	secretsOf(stdout + stderr)

	conn := pgtest.Connect(t, dbURL)
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT tenant || '/' || slug FROM keyprov.keys ORDER BY 1`)
	require.NoError(t, err)
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"acme/editor", "globex/reporting", "root/frontend"}, keys)
	var events int
	var actors []string
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), array_agg(DISTINCT actor) FROM keyprov.events`).Scan(&events, &actors))
	assert.Equal(t, len(keys), events)
	assert.Equal(t, []string{pod}, actors, "KEYPROV_ACTOR is the pod's name")

	// Another replica: nothing to do, nothing written.
	code, stdout, stderr = runner.run(t, ex.init.Args, env, "")
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	var after int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM keyprov.events`).Scan(&after))
	assert.Equal(t, events, after, "a second apply writes no event")

	// Without KEYPROV_ACTOR, the actor is the image's user at the host:
	// /etc/passwd names it.
	var noActor []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KEYPROV_ACTOR=") {
			noActor = append(noActor, kv)
		}
	}
	code, stdout, stderr = runner.run(t, []string{"revoke", "--reason", "test", "globex/reporting"}, noActor, "")
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	var actor string
	require.NoError(t, conn.QueryRow(ctx, `SELECT actor FROM keyprov.events WHERE action = 'revoked'`).Scan(&actor))
	assert.Regexp(t, `^nonroot@`, actor)

	// A token verifies from the image; another does not.
	verifyEnv := []string{"KEYPROV_DATABASE_URL_FILE=" + envValue(env, "KEYPROV_DATABASE_URL_FILE")}
	code, stdout, stderr = runner.run(t, []string{"verify", "--tenant", "acme"}, verifyEnv, tokens["editor-acme"])
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "acme/editor")
	secretsOf(stdout + stderr)
	other, err := token.Generate(token.DefaultPrefix)
	require.NoError(t, err)
	code, stdout, stderr = runner.run(t, []string{"verify"}, verifyEnv, other.Reveal())
	assert.Equal(t, 1, code, "%s%s", stdout, stderr)
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// podRunnerFor writes the pod's files and returns how to run the image:
// podman run when it can run the image here, else a chroot.
func podRunnerFor(t *testing.T, tool imageTool, image string, ex k8sExample, values map[string]string, cfg imageConfig, fs rootFS, uid, gid, fsGroup uint32) podRunner {
	t.Helper()
	if tool.podman() {
		pr := podmanRunner{tool: tool, image: image, flags: []string{
			"--user", fmt.Sprintf("%d:%d", uid, gid), "--group-add", strconv.Itoa(int(fsGroup)),
			"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		}}
		vols := t.TempDir()
		require.NoError(t, os.Chmod(vols, 0o755))
		for i, m := range ex.init.VolumeMounts {
			host := filepath.Join(vols, strconv.Itoa(i))
			require.NoError(t, os.Mkdir(host, 0o755))
			for _, f := range ex.files {
				if rel, ok := strings.CutPrefix(f.path, m.MountPath+"/"); ok {
					writePodFile(t, filepath.Join(host, rel), values[f.path], f)
				}
			}
			pr.volumes = append(pr.volumes, host+":"+m.MountPath+":ro")
		}
		code, stdout, stderr := pr.run(t, []string{"version"}, nil, "")
		if code == 0 && strings.HasPrefix(stdout, "keyprov ") {
			return pr
		}
		t.Logf("podman run cannot run the image on this machine (exit %d: %s)", code, strings.TrimSpace(stdout+stderr))
	}
	if os.Geteuid() != 0 {
		t.Fatalf("cannot run the image: podman run fails here, and a chroot into its root filesystem needs root")
	}
	for _, f := range ex.files {
		writePodFile(t, filepath.Join(fs.dir, filepath.FromSlash(f.path)), values[f.path], f)
	}
	return chrootRunner{fs: fs, uid: uid, gid: gid, groups: []uint32{fsGroup}, imageEnv: cfg.Env, entrypoint: cfg.Entrypoint}
}

// writePodFile writes a file of a volume as Kubernetes would: root's, of
// the pod's fsGroup for a Secret's, with the volume's mode.
func writePodFile(t *testing.T, p, data string, f podFile) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
	require.NoError(t, os.Chmod(p, f.mode))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(p, 0, f.gid))
	}
}

// assertCABundle checks that the file is a bundle of CA certificates that
// Go's crypto/x509 reads, as keyprov does for sslmode=verify-full.
func assertCABundle(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		_, err := x509.ParseCertificate(block.Bytes)
		assert.NoError(t, err)
		n++
	}
	assert.Greater(t, n, 10, "CA certificates in the bundle")
	assert.True(t, x509.NewCertPool().AppendCertsFromPEM(b))
}
