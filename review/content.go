package review

import (
	"encoding/json"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/spec"
)

// Content is what the store keeps of a key besides its tokens and its
// disabled state: keycontent.Content, whose fields (keycontent.Fields) a
// plan and a review compare alike (keycontent.Compare). A review reads
// the fields a spec sets; the owner and the revocation are the store's
// (a review reads the spec's revoked attribute: Version.Revoked).
type Content = keycontent.Content

// ContentOf returns the content a spec's key asks for: the fields a spec
// sets (not the owner, which is the spec's settings.owner, nor the
// revocation).
func ContentOf(k *spec.Key) Content {
	return Content{Universal: k.Universal, Name: k.Name, Description: k.Description,
		Permissions: k.PermissionsJSON, Metadata: k.MetadataJSON, ExpiresAt: k.Expires}
}

// permissionsOf parses a canonical JSON array of permissions (the store's
// form) into the spec's; an element that is not an object with a string
// name is left out.
func permissionsOf(b []byte) []spec.Permission {
	var elems []json.RawMessage
	if json.Unmarshal(b, &elems) != nil {
		return nil
	}
	out := make([]spec.Permission, 0, len(elems))
	for _, e := range elems {
		var p struct {
			Name *string `json:"name"`
		}
		if json.Unmarshal(e, &p) != nil || p.Name == nil {
			continue
		}
		out = append(out, spec.Permission{Name: *p.Name, JSON: e})
	}
	return out
}
