package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/store"
)

// ErrRefused is returned when a plan has refusals: nothing was written.
var ErrRefused = errors.New("reconcile: apply refused")

// RefusedError carries the refusals of a refused plan.
type RefusedError struct {
	Refusals []Refusal
}

func (e *RefusedError) Error() string {
	if len(e.Refusals) == 1 {
		return "apply refused: " + e.Refusals[0].Message
	}
	return fmt.Sprintf("apply refused for %d reasons; the first: %s", len(e.Refusals), e.Refusals[0].Message)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Writer is what Apply needs from the store.
type Writer interface {
	Write(ctx context.Context, b *store.Batch) (store.WriteResult, error)
}

// Meta identifies an apply in the events it writes.
type Meta struct {
	RunID string // a UUID: events.run_id; NewRunID makes one
	Actor string
}

// NewRunID returns a random UUID (version 4) identifying one run in logs
// and events.
func NewRunID() string { return uuid.NewString() }

// Apply executes a plan: it writes the changed rows and one event per
// change, and nothing else. A plan with refusals is not applied. The plan
// is not changed: the batch's rows are the plan's, which Write only reads.
func Apply(ctx context.Context, w Writer, p *Plan, meta Meta) (store.WriteStats, error) {
	if len(p.Refusals) > 0 {
		return store.WriteStats{}, &RefusedError{Refusals: p.Refusals}
	}
	b := Batch(p, meta)
	if len(b.Keys) == 0 {
		return store.WriteStats{}, nil
	}
	res, err := w.Write(ctx, b)
	return res.WriteStats, err
}

// Batch converts the plan's changes into the store's rows and events.
func Batch(p *Plan, meta Meta) *store.Batch {
	b := &store.Batch{RunID: meta.RunID, Owner: p.Owner, Actor: meta.Actor, Now: p.Now}
	n, creates := 0, 0
	for i := range p.Changes {
		if c := &p.Changes[i]; c.Changed() {
			n++
			if c.Action == Create {
				creates++
			}
		}
	}
	// One allocation for the rows and one for the created events, instead
	// of growing a slice of 100,000 rows and allocating 100,000 events.
	b.Keys = make([]store.KeyWrite, 0, n)
	created := make([]store.Event, creates)
	for i := range p.Changes {
		c := &p.Changes[i]
		if !c.Changed() {
			continue
		}
		kw := store.KeyWrite{
			Create: c.Action == Create, Key: c.Row, KeyID: c.KeyID,
			Tenant: c.Address.Tenant, Slug: c.Address.Slug,
			NewTokens: c.NewTokens, TokenUpdates: c.TokenUpdates,
		}
		if c.Action == Create {
			created[0] = createdEvent(c)
			kw.Events, created = created[:1:1], created[1:]
		} else {
			kw.Events = events(c)
		}
		b.Keys = append(b.Keys, kw)
	}
	return b
}

// Event actions.
const (
	EventCreated       = "created"
	EventUpdated       = "updated"
	EventRotated       = "rotated"
	EventRevoked       = "revoked"
	EventUnrevoked     = "unrevoked"
	EventMoved         = "moved"
	EventAdopted       = "adopted"
	EventTokensChanged = "tokens_changed"
	EventDisabled      = store.EventDisabled
	EventEnabled       = store.EventEnabled
)

// oldNew is a changed value in an event.
func oldNew(old, new any) map[string]any { return map[string]any{"old": old, "new": new} }

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return x
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("reconcile: encoding an event: %v", err))
	}
	return b
}

// hintValue is the event form of an active token's hint: null for none.
func hintValue(h string) any {
	if h == "" {
		return nil
	}
	return h
}

// tokenDetails is the event form of a token change: hints only.
func tokenDetails(t *TokenChange) map[string]any {
	m := map[string]any{}
	if t == nil {
		return m
	}
	if t.Before != t.After {
		m["token"] = oldNew(hintValue(t.Before), hintValue(t.After))
	}
	if t.Previous != "" {
		p := map[string]any{"hint": t.Previous}
		if t.PreviousUntil != nil {
			p["until"] = t.PreviousUntil.UTC().Format(time.RFC3339)
		}
		if t.PreviousNew {
			p["allow_new_previous"] = true
		}
		m["previous_token"] = p
	}
	if len(t.Retired) > 0 {
		m["retired_tokens"] = t.Retired
	}
	return m
}

// createdChanges is the changes document of a created key: every value,
// as "new". It is written directly rather than through maps and
// json.Marshal, which cost more than the rest of an initial apply of
// 100,000 keys on the client. Members are in sorted order, like
// json.Marshal's (see createdMembers).
func createdChanges(c *Change) []byte {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	r, t := c.Row, c.Token
	for i := range createdMembers {
		m := &createdMembers[i]
		switch m.kind {
		case memberField:
			if r == nil || !m.field.Created.Shows(m.field, &r.Content) {
				continue
			}
		case memberDisabled:
			if r == nil || !r.Disabled.Spec {
				continue
			}
		case memberPreviousToken:
			if t == nil || t.Previous == "" {
				continue
			}
		case memberToken:
			if t == nil || t.After == "" {
				continue
			}
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, m.open...)
		switch m.kind {
		case memberField:
			b = m.field.AppendJSON(b, &r.Content)
		case memberDisabled:
			b = append(b, "true"...)
		case memberPreviousToken:
			if t.PreviousNew {
				b = append(b, `"allow_new_previous":true,`...)
			}
			b = append(b, `"hint":`...)
			b = keycontent.AppendJSONString(b, t.Previous)
			if t.PreviousUntil != nil {
				b = append(b, `,"until":"`...)
				b = append(t.PreviousUntil.UTC().AppendFormat(b, time.RFC3339), '"')
			}
		case memberToken:
			b = keycontent.AppendJSONString(b, t.After)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// memberKind is what a member of a created event holds.
type memberKind uint8

const (
	memberField         memberKind = iota // a content field the event records (keycontent.Field.Created)
	memberDisabled                        // the spec's disabled = true
	memberPreviousToken                   // the previous token's hint, until when, and whether it was let in
	memberToken                           // the active token's hint
)

// createdMember is one member a created event may have; open is its name
// and the opening of its value (`"name":{"new":`).
type createdMember struct {
	name  string
	open  string
	kind  memberKind
	field *keycontent.Field
}

// createdMembers are the members of a created event: every field of
// keycontent.Fields, the disabled state and the tokens, sorted by name.
var createdMembers = func() []createdMember {
	ms := []createdMember{
		{name: FieldDisabled, kind: memberDisabled},
		{name: "previous_token", kind: memberPreviousToken},
		{name: "token", kind: memberToken},
	}
	for i := range keycontent.Fields {
		ms = append(ms, createdMember{name: keycontent.Fields[i].Name, kind: memberField, field: &keycontent.Fields[i]})
	}
	slices.SortFunc(ms, func(a, b createdMember) int { return strings.Compare(a.name, b.name) })
	for i := range ms {
		if ms[i].kind == memberPreviousToken {
			ms[i].open = `"` + ms[i].name + `":{`
		} else {
			ms[i].open = `"` + ms[i].name + `":{"new":`
		}
	}
	return ms
}()

// createdEvent is the audit row of a created key. Its document is made as
// the row is written (see store.Event.ChangesFunc).
func createdEvent(c *Change) store.Event {
	return store.Event{Action: EventCreated, ChangesFunc: func() []byte { return createdChanges(c) }, Reason: tokenReason(c, c.Reason)}
}

// tokenReason is the reason of the event that records c's token change:
// ReasonNewPrevious when --allow-new-previous let a previous token in,
// otherwise reason.
func tokenReason(c *Change, reason string) string {
	if c.Token != nil && c.Token.PreviousNew {
		return ReasonNewPrevious
	}
	return reason
}

// events returns the audit rows of one change: one per kind of change.
func events(c *Change) []store.Event {
	var evs []store.Event
	switch c.Action {
	case Create:
		return []store.Event{createdEvent(c)}
	case Revoke:
		m := map[string]any{"revoked": oldNew(false, true)}
		for k, v := range tokenDetails(c.Token) {
			m[k] = v
		}
		delete(m, "token")
		evs = append(evs, store.Event{Action: EventRevoked, Changes: mustJSON(m), Reason: c.Reason})
	}
	if c.MovedFrom != nil {
		evs = append(evs, store.Event{Action: EventMoved, Changes: mustJSON(map[string]any{"address": oldNew(c.MovedFrom.String(), c.Address.String())})})
	}
	fields := map[string]any{}
	unrevoked := false
	var holders *FieldChange
	for i, f := range c.Fields {
		switch f.Field {
		case "owner":
			evs = append(evs, store.Event{Action: EventAdopted, Changes: mustJSON(map[string]any{"owner": oldNew(f.Before, f.After)})})
		case "revoked":
			unrevoked = f.After == false
		case FieldDisabled:
			// In the event of FieldDisabledBy, below.
		case FieldDisabledBy:
			holders = &c.Fields[i]
		default:
			fields[f.Field] = oldNew(jsonValue(f.Before), jsonValue(f.After))
		}
	}
	if len(fields) > 0 {
		evs = append(evs, store.Event{Action: EventUpdated, Changes: mustJSON(fields)})
	}
	if c.Action == Update && c.Token != nil {
		action := EventTokensChanged
		switch {
		case unrevoked:
			action = EventUnrevoked
		case c.Rotated():
			action = EventRotated
		}
		m := tokenDetails(c.Token)
		if unrevoked {
			m["revoked"] = oldNew(true, false)
		}
		evs = append(evs, store.Event{Action: action, Changes: mustJSON(m), Reason: tokenReason(c, "")})
	}
	if holders != nil {
		evs = append(evs, switchEvent(holders))
	}
	return evs
}

// switchEvent is the event of a change of who holds a key disabled (a
// FieldDisabledBy field): "disabled" when a holder is added, "enabled"
// when one is lifted. Its changes are those keyprov disable and enable
// write (store.SwitchChanges).
func switchEvent(f *FieldChange) store.Event {
	before, after := disabledBy(f.Before), disabledBy(f.After)
	added := after.Spec && !before.Spec || after.Prune && !before.Prune
	action := EventEnabled
	if added {
		action = EventDisabled
	}
	return store.Event{Action: action, Changes: store.SwitchChanges(&before, &after), Reason: switchReason(before, after)}
}

// disabledBy is the disabled state of a FieldDisabledBy value: the holders
// it names (an operator's disable without its details).
func disabledBy(v any) store.Disabled {
	hs, _ := v.([]string)
	var d store.Disabled
	for _, h := range hs {
		switch h {
		case store.HolderSpec:
			d.Spec = true
		case store.HolderPrune:
			d.Prune = true
		case store.HolderOperator:
			d.Operator = &store.OperatorHold{}
		}
	}
	return d
}

// switchReason says why an apply changes who holds a key disabled.
func switchReason(before, after store.Disabled) string {
	switch {
	case after.Prune && !before.Prune:
		return ReasonRemoved
	case before.Prune && !after.Prune:
		if after.Spec {
			return ReasonDeclared + ", with disabled = true"
		}
		return ReasonDeclared
	case after.Spec:
		return ReasonSpecDisabled
	default:
		return ReasonSpecEnabled
	}
}
