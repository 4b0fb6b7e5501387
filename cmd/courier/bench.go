package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// benchScenarios maps a scenario name to its runner. Each scenario measures
// its own baseline in the same run and prints Courier's figure as a ratio.
var benchScenarios = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var names []string
	for name := range benchScenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(args) == 0 {
		return fmt.Errorf("usage: courier bench <scenario> [flags]; scenarios: %s", strings.Join(names, ", "))
	}
	run, ok := benchScenarios[args[0]]
	if !ok {
		return fmt.Errorf("unknown bench scenario %q; scenarios: %s", args[0], strings.Join(names, ", "))
	}
	return run(ctx, args[1:], stdout, stderr)
}
