package durations

import (
	"time"

	"github.com/rs/zerolog"
)

func logs(log zerolog.Logger, d time.Duration, name string) {
	log.Info().Dur("elapsed_ms", d).Msg("fine")
	log.Info().Dur("retry_in", d).Msg("no unit")
	log.Info().Dur(name, d).Msg("not a constant")
	zerolog.DurationFieldUnit = time.Second
}
