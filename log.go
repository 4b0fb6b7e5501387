package courier

import (
	"context"
	"log/slog"
)

type loggerContextKey struct{}

// NewContextWithLogger returns ctx carrying l. The HTTP edge stores a logger
// with the request ID here, so every line logged for a request carries it.
func NewContextWithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerContextKey{}, l)
}

// Logger returns the logger in ctx, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerContextKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
