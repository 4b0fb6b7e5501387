package upload

import (
	"context"
	"log/slog"

	expslog "golang.org/x/exp/slog"
)

// tusdLogger returns a logger for tusd, which logs through x/exp/slog,
// that writes through Courier's log/slog logger, so tusd's lines share the
// process's format, level and destination. tusd logs every request at
// info; Courier's access log has those already, so only warnings and
// errors pass.
func tusdLogger(l *slog.Logger) *expslog.Logger {
	return expslog.New(&tusdHandler{h: l.Handler()})
}

type tusdHandler struct{ h slog.Handler }

func (t *tusdHandler) Enabled(ctx context.Context, level expslog.Level) bool {
	return level >= expslog.LevelWarn && t.h.Enabled(ctx, slog.Level(level))
}

func (t *tusdHandler) Handle(ctx context.Context, r expslog.Record) error {
	out := slog.NewRecord(r.Time, slog.Level(r.Level), r.Message, r.PC)
	r.Attrs(func(a expslog.Attr) bool {
		out.AddAttrs(slog.Any(a.Key, a.Value.Any()))
		return true
	})
	return t.h.Handle(ctx, out)
}

func (t *tusdHandler) WithAttrs(attrs []expslog.Attr) expslog.Handler {
	converted := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		converted = append(converted, slog.Any(a.Key, a.Value.Any()))
	}
	return &tusdHandler{h: t.h.WithAttrs(converted)}
}

func (t *tusdHandler) WithGroup(name string) expslog.Handler {
	return &tusdHandler{h: t.h.WithGroup(name)}
}
