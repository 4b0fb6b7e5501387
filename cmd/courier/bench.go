package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
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
	// COURIER_BENCH_CPUPROFILE=file profiles the bench's own clients, to
	// keep the measuring side lean (the node has -debug-addr).
	if path := os.Getenv("COURIER_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return run(ctx, args[1:], stdout, stderr)
}
