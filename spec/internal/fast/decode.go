package fast

import (
	"sync"
	"unsafe"

	"github.com/zclconf/go-cty/cty"
)

// DecodeCache holds what jsondecode made of large inputs: a spec that
// writes jsondecode(var.tenants_json)[each.key] decodes the text once, not
// once per for_each instance. Inputs are keyed by the identity of their
// bytes (a variable holds the same string each time it is read); values
// are immutable. The zero value is ready to use.
type DecodeCache struct {
	mu sync.Mutex
	m  map[decodeKey]*decoded
}

// decodeMin is the length from which an input is cached: a short one
// costs less to decode than to look up.
const decodeMin = 4096

type decodeKey struct {
	p *byte
	n int
}

type decoded struct {
	once sync.Once
	val  cty.Value
	err  error
}

// Decode returns decode(s), computed once per input. Concurrent callers
// wait for the one decoding instead of decoding too.
func (c *DecodeCache) Decode(s string, decode func(string) (cty.Value, error)) (cty.Value, error) {
	if len(s) < decodeMin {
		return decode(s)
	}
	k := decodeKey{unsafe.StringData(s), len(s)}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[decodeKey]*decoded{}
	}
	r := c.m[k]
	if r == nil {
		r = &decoded{}
		c.m[k] = r
	}
	c.mu.Unlock()
	r.once.Do(func() { r.val, r.err = decode(s) })
	return r.val, r.err
}
