package view_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

func historyEvents() []store.EventRow {
	at := time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)
	return []store.EventRow{
		{ID: 2, At: at, RunID: "r2", Tenant: "acme", Slug: "website", Action: "updated",
			Changes: json.RawMessage(`{"permissions": {"new": [{"rwd": "rw", "name": "wb.page"}], "old": [{"rwd": "r", "name": "wb.page"}]}, "token": {"new": "wat_…9yC2"}}`),
			Owner:   "platform", Actor: "ci@host"},
		{ID: 1, At: at.Add(-time.Hour), RunID: "r1", Tenant: "acme", Slug: "evil\x1b[2J", Action: "disabled\r",
			Changes: json.RawMessage(`{"name": {"old": "a", "new": "b\u202e"}}`),
			Owner:   "o\u009b", Actor: "eve", Reason: "say \"hi\"\x07"},
	}
}

func writeHistory(t *testing.T, format string, events []store.EventRow, complete bool) string {
	t.Helper()
	var b bytes.Buffer
	hv, err := view.NewHistoryView(&b, format)
	require.NoError(t, err)
	for i := range events {
		require.NoError(t, hv.Event(&events[i]))
	}
	require.NoError(t, hv.End(complete))
	return b.String()
}

func TestHistoryText(t *testing.T) {
	want := `2026-03-01T12:00:00Z  updated   acme/website  permissions [{"name": "wb.page", "rwd": "r"}] → [{"name": "wb.page", "rwd": "rw"}]; token "wat_…9yC2"
    run r2 by ci@host, owner platform
2026-03-01T11:00:00Z  disabled\r acme/evil\x1b[2J  name "a" → "b\u202e"
    run r1 by eve, owner o\u009b, reason "say "hi"\a"
`
	assert.Equal(t, want, writeHistory(t, "text", historyEvents(), true))
	assert.Equal(t, "No events.\n", writeHistory(t, "text", nil, true))
	// When reading failed, the text does not claim there were none.
	assert.Equal(t, "", writeHistory(t, "text", nil, false))
}

func TestHistoryJSON(t *testing.T) {
	want := `{"format_version": "1", "events": [
  {"id":2,"at":"2026-03-01T12:00:00.0000005Z","run_id":"r2","address":"acme/website","action":"updated","changes":{"permissions":{"new":[{"name":"wb.page","rwd":"rw"}],"old":[{"name":"wb.page","rwd":"r"}]},"token":{"new":"wat_…9yC2"}},"owner":"platform","actor":"ci@host"},
  {"id":1,"at":"2026-03-01T11:00:00.0000005Z","run_id":"r1","address":"acme/evil\u001b[2J","action":"disabled\r","changes":{"name":{"old":"a","new":"b\u202e"}},"owner":"o\u009b","actor":"eve","reason":"say \"hi\"\u0007"}
]}
`
	got := writeHistory(t, "json", historyEvents(), true)
	assert.Equal(t, want, got)
	assert.True(t, json.Valid([]byte(got)))
	// The document is closed even when reading failed.
	assert.Equal(t, "{\"format_version\": \"1\", \"events\": []}\n", writeHistory(t, "json", nil, false))
}

func TestNoHistory(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, view.WriteNoHistory(&b, "text"))
	require.NoError(t, view.WriteNoHistory(&b, "json"))
	assert.Equal(t, "No events: no apply has run yet.\n{\"format_version\": \"1\", \"events\": []}\n", b.String())
	_, err := view.NewHistoryView(&b, "yaml")
	assert.Error(t, err)
}
