package view

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/keyprov/keyprov/store"
)

// HistoryJSONVersion is the format_version of keyprov history -o json.
const HistoryJSONVersion = "1"

// HistoryView writes keyprov history as the events stream in from the
// store, newest first, in text or JSON: memory does not grow with their
// number. Every stored value is escaped (another tool may have written
// it); tokens appear in events by their hints only.
type HistoryView struct {
	w    *bufio.Writer
	json bool
	n    int
}

// NewHistoryView returns the view for format (text or json) writing to
// w; End must be called once the events are read.
func NewHistoryView(w io.Writer, format string) (*HistoryView, error) {
	v := &HistoryView{w: bufio.NewWriter(w)}
	switch format {
	case "text":
	case "json":
		v.json = true
		v.w.WriteString(`{"format_version": "` + HistoryJSONVersion + `", "events": [`)
	default:
		return nil, fmt.Errorf("unknown output format %q", format)
	}
	return v, nil
}

// historyEvent is the JSON form of an event.
type historyEvent struct {
	ID      int64           `json:"id"`
	At      string          `json:"at"`
	RunID   string          `json:"run_id"`
	Address string          `json:"address"`
	Action  string          `json:"action"`
	Changes json.RawMessage `json:"changes"`
	Owner   string          `json:"owner"`
	Actor   string          `json:"actor"`
	Reason  string          `json:"reason,omitempty"`
}

// Event writes one event.
func (v *HistoryView) Event(e *store.EventRow) error {
	w := v.w
	if v.json {
		b, err := json.Marshal(historyEvent{ID: e.ID, At: e.At.Format(time.RFC3339Nano), RunID: e.RunID,
			Address: e.Tenant + "/" + e.Slug, Action: e.Action, Changes: EventChangesJSON(e.Changes), Owner: e.Owner, Actor: e.Actor, Reason: e.Reason})
		if err != nil {
			return err
		}
		if v.n > 0 {
			w.WriteString(",")
		}
		w.WriteString("\n  ")
		w.Write(PrintableJSON(b))
	} else {
		fmt.Fprintf(w, "%s  %-9s %s  %s\n", e.At.Format(time.RFC3339), Printable(e.Action),
			Printable(e.Tenant+"/"+e.Slug), Printable(describeChanges(EventChangesJSON(e.Changes))))
		meta := fmt.Sprintf("run %s by %s, owner %s", e.RunID, e.Actor, e.Owner)
		if e.Reason != "" {
			meta += fmt.Sprintf(", reason \"%s\"", e.Reason)
		}
		fmt.Fprintf(w, "    %s\n", Printable(meta))
	}
	v.n++
	return nil
}

// End closes the output. complete is false when reading the events
// failed: the JSON document is still closed, and the text does not claim
// that there were no events.
func (v *HistoryView) End(complete bool) error {
	if v.json {
		if v.n > 0 {
			v.w.WriteString("\n")
		}
		v.w.WriteString("]}\n")
	} else if v.n == 0 && complete {
		fmt.Fprintln(v.w, "No events.")
	}
	return v.w.Flush()
}

// WriteNoHistory writes keyprov history's answer for a store where no
// apply has run: no schema, so no events.
func WriteNoHistory(w io.Writer, format string) error {
	var err error
	if format == "json" {
		_, err = fmt.Fprintln(w, `{"format_version": "`+HistoryJSONVersion+`", "events": []}`)
	} else {
		_, err = fmt.Fprintln(w, "No events: no apply has run yet.")
	}
	return err
}

// describeChanges renders an event's changes on one line: field old → new.
func describeChanges(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		var on struct {
			Old *json.RawMessage `json:"old"`
			New *json.RawMessage `json:"new"`
		}
		if json.Unmarshal(m[k], &on) == nil && (on.Old != nil || on.New != nil) {
			switch {
			case on.Old != nil && on.New != nil:
				parts = append(parts, fmt.Sprintf("%s %s → %s", k, compact(*on.Old), compact(*on.New)))
			case on.New != nil:
				parts = append(parts, fmt.Sprintf("%s %s", k, compact(*on.New)))
			}
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", k, compact(m[k])))
	}
	return strings.Join(parts, "; ")
}

// compact bounds a value of an event's changes to 120 bytes.
func compact(b []byte) string {
	s := string(b)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
