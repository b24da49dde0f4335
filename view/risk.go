package view

import (
	"fmt"
	"strings"

	"github.com/keyprov/keyprov/review"
)

// Risks are shown the same way by keyprov diff and by plan and apply: the
// same list, the same severity markers, the same counts.

// RiskCountLine returns e.g. "3 risks (1 critical, 2 high)" or "no risks".
func RiskCountLine(counts map[review.Severity]int) string {
	total := 0
	var parts []string
	for sev := review.Critical; sev >= review.Low; sev-- {
		if n := counts[sev]; n > 0 {
			total += n
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	switch total {
	case 0:
		return "no risks"
	case 1:
		return "1 risk (" + parts[0] + ")"
	}
	return fmt.Sprintf("%d risks (%s)", total, strings.Join(parts, ", "))
}

// writeRiskList writes the text list of risks, most severe first: a
// "Risks:" heading, one line per risk, and a blank line. maxLines bounds
// the lines of risks (0: no bound); more names where to see the rest.
func writeRiskList(b *strings.Builder, st style, risks []review.Risk, maxLines int, more string) {
	if len(risks) == 0 {
		return
	}
	b.WriteString(st.red(st.bold("Risks:")) + "\n")
	for i, rk := range risks {
		if maxLines > 0 && i >= maxLines {
			fmt.Fprintf(b, "  %s\n", st.dim(fmt.Sprintf("… and %d more risks (%s)", len(risks)-i, more)))
			break
		}
		paint := st.yellow
		if rk.Severity >= review.High {
			paint = st.red
		}
		fmt.Fprintf(b, "  %s %s %s: %s\n", paint("!"), paint(fmt.Sprintf("%-8s", rk.Severity)), st.bold(Printable(riskSubject(rk))), Printable(rk.Reason))
	}
	b.WriteString("\n")
}

var severityMarker = map[review.Severity]string{
	review.Critical: "🔴", review.High: "🟠", review.Medium: "🟡", review.Low: "🔵",
}

// writeMDRisks writes risks as a Markdown alert: CAUTION from high up,
// WARNING below; intro follows "**Risks**:". maxRows bounds the list (0:
// no bound); more names where to see the rest.
func writeMDRisks(b *strings.Builder, risks []review.Risk, intro string, maxRows int, more string) {
	if len(risks) == 0 {
		return
	}
	alert := "WARNING"
	if review.MaxSeverity(risks) >= review.High {
		alert = "CAUTION"
	}
	fmt.Fprintf(b, "> [!%s]\n> **Risks**: %s\n>\n", alert, intro)
	for i, rk := range risks {
		if maxRows > 0 && i >= maxRows {
			fmt.Fprintf(b, "> - … and %d more risks (%s)\n", len(risks)-i, more)
			break
		}
		fmt.Fprintf(b, "> - %s **%s** `%s`: %s\n", severityMarker[rk.Severity], rk.Severity, mdCode(Printable(riskSubject(rk))), mdText(Printable(rk.Reason)))
	}
	b.WriteString("\n")
}

// riskSubject names what a risk is about: a key's address or "settings.NAME".
func riskSubject(rk review.Risk) string {
	if rk.Address != "" {
		return rk.Address
	}
	return "settings." + rk.Field
}

// JSONRisk is one risk flag in the JSON documents of diff, plan and apply.
type JSONRisk struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	Address  string `json:"address,omitempty"`
	Field    string `json:"field,omitempty"`
	Reason   string `json:"reason"`
}

func jsonRisks(rs []review.Risk) []JSONRisk {
	out := make([]JSONRisk, 0, len(rs))
	for _, rk := range rs {
		out = append(out, JSONRisk{Severity: rk.Severity.String(), Kind: string(rk.Kind), Address: rk.Address, Field: rk.Field, Reason: rk.Reason})
	}
	return out
}

// jsonRiskCounts counts risks per severity, every severity present, and
// names the worst ("" without risks).
func jsonRiskCounts(counts map[review.Severity]int) (map[string]int, string) {
	m := map[string]int{}
	worst := ""
	for sev := review.Low; sev <= review.Critical; sev++ {
		m[sev.String()] = counts[sev]
		if counts[sev] > 0 {
			worst = sev.String()
		}
	}
	return m, worst
}
