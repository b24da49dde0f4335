package release

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const k8sDir = root + "/examples/kubernetes"

// The parts of the Kubernetes objects the example uses.
type (
	k8sEnvVar struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	}
	k8sMount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	}
	k8sSecurityContext struct {
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
		RunAsUser                *int64 `yaml:"runAsUser"`
		RunAsGroup               *int64 `yaml:"runAsGroup"`
		FSGroup                  *int64 `yaml:"fsGroup"`
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             *struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	}
	k8sContainer struct {
		Name            string              `yaml:"name"`
		Image           string              `yaml:"image"`
		Command         []string            `yaml:"command"`
		Args            []string            `yaml:"args"`
		Env             []k8sEnvVar         `yaml:"env"`
		VolumeMounts    []k8sMount          `yaml:"volumeMounts"`
		SecurityContext *k8sSecurityContext `yaml:"securityContext"`
	}
	k8sVolume struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName  string `yaml:"secretName"`
			DefaultMode *int   `yaml:"defaultMode"`
		} `yaml:"secret"`
	}
	k8sDeployment struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Template struct {
				Spec struct {
					SecurityContext *k8sSecurityContext `yaml:"securityContext"`
					InitContainers  []k8sContainer      `yaml:"initContainers"`
					Containers      []k8sContainer      `yaml:"containers"`
					Volumes         []k8sVolume         `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	k8sKustomization struct {
		Resources          []string `yaml:"resources"`
		ConfigMapGenerator []struct {
			Name  string   `yaml:"name"`
			Files []string `yaml:"files"`
		} `yaml:"configMapGenerator"`
		Images []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		} `yaml:"images"`
	}
	k8sSecret struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		StringData map[string]string `yaml:"stringData"`
	}
)

// podFile is a file of a volume as the init container sees it.
type podFile struct {
	path string // absolute, in the container
	data string // the ConfigMap's file; empty for a Secret's entry
	// secret and key name the Secret's entry, to be filled in by the test.
	secret, key string
	mode        os.FileMode
	gid         int // the pod's fsGroup for Secrets' files, else 0
}

// k8sExample is the init container of examples/kubernetes with what its
// volumes hold.
type k8sExample struct {
	image   string // the image the kustomization names
	init    k8sContainer
	podSC   *k8sSecurityContext
	files   []podFile
	secrets map[string]map[string]string // from secrets.example.yaml
	spec    string                       // keys.hcl
}

func decodeYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k8sDir, name))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(false)
	require.NoError(t, dec.Decode(v), name)
}

// loadK8sExample reads the example and resolves the init container's
// volumes into files, failing on anything that does not fit together.
func loadK8sExample(t *testing.T) k8sExample {
	t.Helper()
	var kus k8sKustomization
	decodeYAML(t, "kustomization.yaml", &kus)
	require.Equal(t, []string{"deployment.yaml"}, kus.Resources, "the kustomization applies the Deployment, never the Secrets' template")
	var dep k8sDeployment
	decodeYAML(t, "deployment.yaml", &dep)
	require.Equal(t, "Deployment", dep.Kind)
	pod := dep.Spec.Template.Spec
	require.Len(t, pod.InitContainers, 1)
	ex := k8sExample{init: pod.InitContainers[0], podSC: pod.SecurityContext, secrets: map[string]map[string]string{}}

	require.Len(t, kus.Images, 1)
	require.Equal(t, kus.Images[0].Name, ex.init.Image, "the kustomization names the init container's image")
	ex.image = kus.Images[0].NewName + ":" + kus.Images[0].NewTag

	b, err := os.ReadFile(filepath.Join(k8sDir, "secrets.example.yaml"))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var s k8sSecret
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Equal(t, "Secret", s.Kind)
		ex.secrets[s.Metadata.Name] = s.StringData
	}

	configMaps := map[string][]string{}
	for _, g := range kus.ConfigMapGenerator {
		configMaps[g.Name] = g.Files
	}
	volumes := map[string]k8sVolume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	gid := 0
	if ex.podSC != nil && ex.podSC.FSGroup != nil {
		gid = int(*ex.podSC.FSGroup)
	}
	for _, m := range ex.init.VolumeMounts {
		v, ok := volumes[m.Name]
		require.True(t, ok, "the mount %s names a volume of the pod", m.Name)
		require.True(t, m.ReadOnly, "the init container mounts %s read-only", m.MountPath)
		switch {
		case v.ConfigMap != nil:
			files, ok := configMaps[v.ConfigMap.Name]
			require.True(t, ok, "the kustomization generates the ConfigMap %s", v.ConfigMap.Name)
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(k8sDir, f))
				require.NoError(t, err)
				ex.files = append(ex.files, podFile{path: path.Join(m.MountPath, path.Base(f)), data: string(b), mode: 0o644})
				if path.Base(f) == "keys.hcl" {
					ex.spec = string(b)
				}
			}
		case v.Secret != nil:
			keys, ok := ex.secrets[v.Secret.SecretName]
			require.True(t, ok, "secrets.example.yaml shows the Secret %s", v.Secret.SecretName)
			mode := os.FileMode(0o644) // Kubernetes' default
			if v.Secret.DefaultMode != nil {
				mode = os.FileMode(*v.Secret.DefaultMode)
			}
			for k := range keys {
				ex.files = append(ex.files, podFile{path: path.Join(m.MountPath, k), secret: v.Secret.SecretName, key: k, mode: mode, gid: gid})
			}
		default:
			t.Fatalf("volume %s: only ConfigMaps and Secrets are expected", m.Name)
		}
	}
	slices.SortFunc(ex.files, func(a, b podFile) int { return strings.Compare(a.path, b.path) })
	require.NotEmpty(t, ex.spec, "a ConfigMap holds keys.hcl")
	return ex
}

// env returns the init container's environment: the pod's name for its
// field, secret(name, key) for an entry of a Secret.
func (ex k8sExample) env(t *testing.T, podName string, secret func(name, key string) string) []string {
	t.Helper()
	var env []string
	for _, e := range ex.init.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env = append(env, e.Name+"="+podName)
		case e.ValueFrom.SecretKeyRef != nil:
			env = append(env, e.Name+"="+secret(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
		default:
			t.Fatalf("env %s: the test knows only values, the pod's name and Secrets' entries", e.Name)
		}
	}
	return env
}

func (ex k8sExample) fileAt(p string) (podFile, bool) {
	for _, f := range ex.files {
		if f.path == p {
			return f, true
		}
	}
	return podFile{}, false
}

// TestKubernetesExample: the example's parts fit together. The init
// container runs the image that make image tags, as the image's user,
// read-only; it applies the spec of the ConfigMap; every token the spec
// reads is an entry of the tokens' Secret, the database URL file one of
// the database's. TestImage runs the same init container from the image.
func TestKubernetesExample(t *testing.T) {
	ex := loadK8sExample(t)
	assert.Equal(t, "localhost/keyprov:"+release(t), ex.image, "the image of make image at this release (make image tags IMAGE_NAME:VERSION on the release's tag)")
	assert.Empty(t, ex.init.Command, "the image's entrypoint is keyprov")
	require.GreaterOrEqual(t, len(ex.init.Args), 3)
	assert.Equal(t, "apply", ex.init.Args[0])
	i := slices.Index(ex.init.Args, "-f")
	require.GreaterOrEqual(t, i, 0, "apply -f SPEC")
	spec, ok := ex.fileAt(ex.init.Args[i+1])
	require.True(t, ok, "the spec %s is a file of a mounted ConfigMap", ex.init.Args[i+1])
	assert.Equal(t, ex.spec, spec.data)

	env := map[string]string{}
	for _, kv := range ex.env(t, "api-0", func(name, key string) string {
		_, ok := ex.secrets[name][key]
		assert.True(t, ok, "secrets.example.yaml shows the Secret %s with the entry %s", name, key)
		return "secret:" + name + "/" + key
	}) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	urlFile, ok := ex.fileAt(env["KEYPROV_DATABASE_URL_FILE"])
	require.True(t, ok, "KEYPROV_DATABASE_URL_FILE %q is an entry of a mounted Secret", env["KEYPROV_DATABASE_URL_FILE"])
	assert.NotEmpty(t, urlFile.secret)
	assert.NotContains(t, env, "KEYPROV_DATABASE_URL", "the URL is a file of a Secret, not a variable")

	assert.NotRegexp(t, `file\(`, ex.spec, "the tokens come from the environment")
	reads := regexp.MustCompile(`env\("([^"]+)"\)`).FindAllStringSubmatch(ex.spec, -1)
	require.NotEmpty(t, reads)
	tokens := 0
	for _, m := range reads {
		assert.True(t, strings.HasPrefix(env[m[1]], "secret:keyprov-tokens/"), "the spec reads %s: an entry of the Secret keyprov-tokens, not %q", m[1], env[m[1]])
	}
	for k, v := range env {
		if strings.HasPrefix(v, "secret:keyprov-tokens/") {
			tokens++
			assert.Contains(t, ex.spec, `env("`+k+`")`, "the init container passes %s, which the spec does not read", k)
		}
	}
	assert.Equal(t, len(ex.secrets["keyprov-tokens"]), tokens, "each token of the Secret is passed")

	sc := ex.init.SecurityContext
	require.NotNil(t, sc)
	require.NotNil(t, ex.podSC)
	assert.Equal(t, true, deref(ex.podSC.RunAsNonRoot))
	assert.Equal(t, int64(65532), deref(sc.RunAsUser), "the image's user")
	assert.Equal(t, int64(65532), deref(sc.RunAsGroup))
	assert.Equal(t, int64(65532), deref(ex.podSC.FSGroup), "the Secrets' files belong to the group that keyprov runs as")
	assert.Equal(t, false, deref(sc.AllowPrivilegeEscalation))
	assert.Equal(t, true, deref(sc.ReadOnlyRootFilesystem))
	require.NotNil(t, sc.Capabilities)
	assert.Equal(t, []string{"ALL"}, sc.Capabilities.Drop)
	for _, f := range ex.files {
		if f.secret != "" {
			assert.Equal(t, os.FileMode(0o440), f.mode, "%s: only the owner and the group read a Secret's file", f.path)
		}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
