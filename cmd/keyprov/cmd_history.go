package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

var historyCmd = &command{
	name:    "history",
	args:    "[TENANT/SLUG]",
	summary: "list the recorded changes of a key or of the whole store",
	help: `Lists the events keyprov recorded, newest first: when, which run, which key,
what changed (old → new values; tokens by their hints only), the owner, who
ran it and why. With TENANT/SLUG, only that key's events, including those
recorded under an older address before a rename.

Events are streamed: memory does not grow with their number.

Exit status: 0 success; 1 bad arguments; 3 store unavailable; 4 keyprov's
schema holds objects that are not keyprov's (SECURITY.md); 5 the server
rejected keyprov (authentication, no such database, no CONNECT).`,
	run: runHistory,
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

func runHistory(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	dbf := addDBFlags(fs, a.cfg)
	out := addOutputFlag(fs, "text or json", "text", "json")
	limit := fs.Int("limit", 0, "show at most `N` events (0: all)")
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	lf.setup(a)
	var filter store.HistoryFilter
	filter.Limit = *limit
	switch len(pos) {
	case 0:
	case 1:
		addr, err := parseAddressArg(pos[0])
		if err != nil {
			a.errorf("keyprov history: %v", err)
			return exitInvalid
		}
		filter.Tenant, filter.Slug = addr.Tenant, addr.Slug
	default:
		a.errorf("keyprov history: want at most one key address (tenant/slug)")
		return exitInvalid
	}
	db, err := dbf.open(ctx, a, nil)
	if err != nil {
		return a.storeExit(err, "history")
	}
	defer db.Close(context.Background())
	w := bufio.NewWriter(a.out)
	defer w.Flush()
	if err := db.CheckVersion(ctx); err != nil {
		if !errors.Is(err, store.ErrSchemaMissing) {
			return a.storeExit(err, "history")
		}
		if out.val == "json" {
			fmt.Fprintln(w, `{"format_version": "1", "events": []}`)
		} else {
			fmt.Fprintln(w, "No events: no apply has run yet.")
		}
		return exitOK
	}
	n := 0
	if out.val == "json" {
		fmt.Fprint(w, "{\"format_version\": \"1\", \"events\": [")
	}
	err = db.History(ctx, filter, func(e *store.EventRow) error {
		if out.val == "json" {
			b, err := json.Marshal(historyEvent{ID: e.ID, At: e.At.Format(time.RFC3339Nano), RunID: e.RunID,
				Address: e.Tenant + "/" + e.Slug, Action: e.Action, Changes: view.EventChangesJSON(e.Changes), Owner: e.Owner, Actor: e.Actor, Reason: e.Reason})
			if err != nil {
				return err
			}
			if n > 0 {
				w.WriteString(",")
			}
			w.WriteString("\n  ")
			w.Write(view.PrintableJSON(b))
		} else {
			// Every stored value is escaped: another tool may have written it.
			fmt.Fprintf(w, "%s  %-9s %s  %s\n", e.At.Format(time.RFC3339), view.Printable(e.Action),
				view.Printable(e.Tenant+"/"+e.Slug), view.Printable(describeChanges(view.EventChangesJSON(e.Changes))))
			meta := fmt.Sprintf("run %s by %s, owner %s", e.RunID, e.Actor, e.Owner)
			if e.Reason != "" {
				meta += fmt.Sprintf(", reason \"%s\"", e.Reason)
			}
			fmt.Fprintf(w, "    %s\n", view.Printable(meta))
		}
		n++
		return nil
	})
	if out.val == "json" {
		if n > 0 {
			w.WriteString("\n")
		}
		w.WriteString("]}\n")
	} else if n == 0 && err == nil {
		fmt.Fprintln(w, "No events.")
	}
	if err != nil {
		return a.storeExit(err, "history")
	}
	return exitOK
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

func compact(b []byte) string {
	s := string(b)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
