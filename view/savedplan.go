package view

import (
	"fmt"
	"io"
	"time"

	"github.com/keyprov/keyprov/store"
)

// WriteSavedPlanHeader writes the line that keyprov show puts above a
// saved plan in text: when and by which keyprov it was computed, against
// which store. keyprov and the store's id are read from the file, and escaped.
func WriteSavedPlanHeader(w io.Writer, computedAt time.Time, keyprov string, pos store.Position) error {
	against := "a store without keyprov's schema"
	if pos.StoreID != "" {
		against = fmt.Sprintf("store %s at change counter %d", Printable(pos.StoreID), pos.Counter)
	}
	_, err := fmt.Fprintf(w, "Saved plan computed at %s by keyprov %s against %s.\n\n",
		computedAt.UTC().Format(time.RFC3339), Printable(keyprov), against)
	return err
}
