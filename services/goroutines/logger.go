package main

import (
	"io"
	"log/slog"
	"os"
)

// LOG_LEVEL names (pino's, shared with the Node models) as slog levels.
var slogLevels = map[string]slog.Level{
	"trace": slog.LevelDebug - 4,
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
	"fatal": slog.LevelError + 4,
}

// newLogger writes one JSON object per line on stdout, with the model and pid on each.
func newLogger(level string) *slog.Logger {
	var out io.Writer = os.Stdout
	if level == "silent" {
		out = io.Discard
	}
	handler := slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slogLevels[level]})
	return slog.New(handler).With("model", model, "pid", os.Getpid())
}
