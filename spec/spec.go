// Package spec parses, evaluates and validates keyprov key specs: HCL files
// (native syntax or JSON) that declare universal and tenant API keys.
//
// Evaluation yields a Spec, a plain typed value that later packages use
// without touching HCL. Every problem is reported as an hcl.Diagnostic with a
// source range and, where it applies, the key's address.
package spec

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/internal/names"
	"github.com/keyprov/keyprov/token"
)

// Defaults of the settings block.
const (
	DefaultOwner      = "keyprov"
	DefaultRootTenant = "root"
	DefaultFile       = "keys.hcl"
)

// Spec is an evaluated, validated key spec.
type Spec struct {
	Settings Settings
	// Keys are sorted by address.
	Keys []*Key
	// Moved lists the renames declared with moved blocks, in source order.
	Moved []Moved
	// Files are the spec files read, in the order they were read.
	Files []string
	// Blocks are the key blocks in source order, with the number of keys
	// each declares: a review can tell that no key was left out.
	Blocks []DeclaredBlock
	// Inputs are what the evaluation read: files and environment
	// variables by name, their values by a digest only (inputs.go).
	Inputs Inputs
}

// DeclaredBlock is a key block and the number of keys it declares (the
// number of its for_each elements, or one).
type DeclaredBlock struct {
	Type, Label string
	DefRange    hcl.Range
	Keys        int
}

// Settings is the settings block, defaults applied.
type Settings struct {
	TokenPrefix string
	Owner       string
	RootTenant  string
	// AllowedPermissions is the permission catalog; empty means any name.
	AllowedPermissions []string
	// Prune is the spec's own prune setting; nil when the spec does not set it.
	Prune *bool
	// TokenChecksum is token_checksum = true: every key's token (not its
	// previous_token) must carry a keyprov checksum.
	TokenChecksum bool
	// PruneRevoke is prune = "revoke": a prune revokes the keys the spec no
	// longer declares instead of disabling them (Prune is then true).
	PruneRevoke bool
	// Range is the settings block's definition range; zero when absent.
	Range hcl.Range
}

// Address identifies a key: its tenant and its slug.
type Address struct {
	Tenant string
	Slug   string
}

// String returns "tenant/slug".
func (a Address) String() string { return a.Tenant + "/" + a.Slug }

// Compare orders addresses by tenant, then slug.
func (a Address) Compare(b Address) int {
	if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
		return c
	}
	return strings.Compare(a.Slug, b.Slug)
}

// ValidIdent reports whether s is a valid slug or tenant: lowercase letters,
// digits, '-' and '_', starting with a letter or digit, at most 63
// characters (^[a-z0-9][a-z0-9_-]{0,62}$, checked by hand: it runs for
// every key). The verifier applies the same rule (names.ValidIdent).
func ValidIdent(s string) bool { return names.ValidIdent(s) }

// ParseAddress parses "tenant/slug".
func ParseAddress(s string) (Address, error) {
	tenant, slug, ok := strings.Cut(s, "/")
	if !ok {
		return Address{}, fmt.Errorf("invalid key address %q: want tenant/slug", s)
	}
	if !ValidIdent(tenant) {
		return Address{}, fmt.Errorf("invalid key address %q: invalid tenant %q", s, tenant)
	}
	if !ValidIdent(slug) {
		return Address{}, fmt.Errorf("invalid key address %q: invalid slug %q", s, slug)
	}
	return Address{Tenant: tenant, Slug: slug}, nil
}

// Key is one evaluated key instance.
type Key struct {
	Address   Address
	Universal bool
	Revoked   bool
	// Disabled is disabled = true: the key is kept with its tokens, and
	// none of them verifies while it is set.
	Disabled bool
	Name     string
	// Description is empty when not set.
	Description string
	// Permissions are sorted by name, then by their canonical JSON.
	Permissions []Permission
	// PermissionsJSON is the canonical JSON array of Permissions, byte for
	// byte what PostgreSQL prints for the jsonb value.
	PermissionsJSON []byte
	// Metadata is nil when not set.
	Metadata map[string]string
	// MetadataJSON is the canonical JSON object of Metadata ("{}" when unset).
	MetadataJSON []byte
	Expires      *time.Time
	// Token is the key's token. It is unknown when secrets were not resolved,
	// and absent only on a revoked key that does not set one.
	Token Token
	// Previous is the previous token of a rolling rotation, or nil.
	Previous *PreviousToken
	// Block describes where the key was declared: its block, and the for_each
	// instance key when the block has for_each.
	Block BlockRef
}

// PreviousToken keeps an old token valid until a cutoff during a rolling rotation.
type PreviousToken struct {
	Token Token
	Until time.Time
}

// Token is a token attribute's value.
type Token struct {
	// Secret holds the value when Known.
	Secret token.Secret
	// Digest is Secret's digest when Known, computed once during evaluation
	// (which runs on every core) for the diff.
	Digest token.Digest
	// Known is false when secrets were not resolved (offline validation).
	Known bool
	// Checksum: Known, and the value ends in a valid keyprov checksum
	// (token.HasChecksum, as made by keyprov token new).
	Checksum bool
	// Set is false when the attribute was not written.
	Set bool
	// source is where the value is read from (Sources).
	source tokenSource
	// rng is the attribute's expression's source range (Range), shared by
	// the instances of a for_each block.
	rng *hcl.Range
}

// Sources describe where the value is read from, e.g. `env("FRONTEND_KEY")`
// or `file("/run/secrets/keys.json")`, in the order they appear; nil when
// not known. They name variables and files, never values.
func (t Token) Sources() []string {
	if s := t.source.String(); s != "" {
		return []string{s}
	}
	return nil
}

// Range returns the source range of the attribute's expression; zero when
// the attribute was not written.
func (t Token) Range() hcl.Range {
	if t.rng == nil {
		return hcl.Range{}
	}
	return *t.rng
}

// BlockRef points at the block that declared a key.
type BlockRef struct {
	// decl is the block, which the instances of a for_each block share:
	// a million keys would otherwise hold a million copies of its range.
	decl *blockDecl
	// InstanceKey is each.key for for_each instances, empty otherwise.
	InstanceKey string
	// HasForEach is true for for_each instances.
	HasForEach bool
}

// blockDecl is what a BlockRef's instances share.
type blockDecl struct {
	typ, label string
	defRange   hcl.Range
}

// Type returns "universal_key" or "tenant_key".
func (b BlockRef) Type() string {
	if b.decl == nil {
		return ""
	}
	return b.decl.typ
}

// Label returns the block label.
func (b BlockRef) Label() string {
	if b.decl == nil {
		return ""
	}
	return b.decl.label
}

// DefRange returns the block header's range.
func (b BlockRef) DefRange() hcl.Range {
	if b.decl == nil {
		return hcl.Range{}
	}
	return b.decl.defRange
}

// String returns a reference like `tenant_key.website["acme"]`.
func (b BlockRef) String() string {
	s := b.Type() + "." + b.Label()
	if b.HasForEach {
		s += fmt.Sprintf("[%q]", b.InstanceKey)
	}
	return s
}

// Permission is one granted permission.
type Permission struct {
	Name string
	// JSON is the canonical JSON object of the permission, "name" included.
	JSON []byte
}

// Attributes decodes the permission's JSON object.
func (p Permission) Attributes() (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal(p.JSON, &m)
	return m, err
}

// Moved is a rename declared with a moved block.
type Moved struct {
	From, To Address
	Range    hcl.Range
}

// Key returns the key with address a, or nil.
func (s *Spec) Key(a Address) *Key {
	for lo, hi := 0, len(s.Keys); lo < hi; {
		m := (lo + hi) / 2
		switch c := s.Keys[m].Address.Compare(a); {
		case c == 0:
			return s.Keys[m]
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil
}
