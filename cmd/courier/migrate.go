package main

import (
	"context"
	"fmt"
	"io"

	"github.com/courier-chat/courier/migrations"
	"github.com/courier-chat/courier/postgres"
)

// runMigrate is `courier migrate up|status`.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, rest, err := parseConfig("migrate", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 || (rest[0] != "up" && rest[0] != "status") {
		return fmt.Errorf("usage: courier migrate [flags] up|status")
	}
	db, err := postgres.Open(ctx, postgres.Config{URL: c.DatabaseURL, MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	if rest[0] == "up" {
		applied, err := migrations.Up(ctx, db)
		for _, name := range applied {
			fmt.Fprintln(stdout, "applied", name)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "up to date (%d applied now)\n", len(applied))
		return nil
	}
	status, err := migrations.Status(ctx, db)
	if err != nil {
		return err
	}
	for _, m := range status {
		at := "pending"
		if m.AppliedAt != nil {
			at = "applied " + m.AppliedAt.Format("2006-01-02 15:04:05Z07:00")
		}
		fmt.Fprintf(stdout, "%-40s %s\n", m.Name, at)
	}
	return nil
}
