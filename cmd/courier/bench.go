package main

import (
	"context"
	"io"

	"github.com/courier-chat/courier/bench"
)

// runBench runs `courier bench <scenario>` with the services this
// process's configuration names (its COURIER_* variables), the same ones
// `courier serve` would use.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parseConfig("bench", nil, stderr)
	if err != nil {
		return err
	}
	return bench.Run(ctx, bench.Config{
		DatabaseURL: cfg.DatabaseURL, DatabaseConns: cfg.DatabaseConns, RedisURL: cfg.RedisURL,
		AdminSecret: cfg.AdminSecret, S3: cfg.S3,
	}, args, stdout, stderr)
}
