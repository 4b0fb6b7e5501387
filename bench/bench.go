// Package bench is `courier bench <scenario>`: measurements of Courier
// against running services, each beside a baseline the scenario measures
// on the same machine in the same run (the bare PostgreSQL transaction,
// Redis pub/sub alone, a direct PutObject, vipsthumbnail, the bare ffmpeg
// command), printed as a table or, with -json, as JSON.
//
// The messaging scenarios drive the server through the client SDK's
// connection layer (client.Conn), the one WebSocket client of the
// project; the scenarios that need a node start `courier serve` as a
// child process on a scratch schema. docs/benchmarks.md keeps the latest
// tables with the commands that made them.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/courier-chat/courier/s3"
)

// Config is what the scenarios need of Courier's configuration. The
// courier command fills it from its flags' COURIER_* environment twins,
// so a bench runs against the services `courier serve` would use.
type Config struct {
	// Courier is the courier binary whose `serve` the scenarios start; the
	// running executable when empty.
	Courier string
	// DatabaseURL is the PostgreSQL the baselines and started nodes use,
	// each in scratch schemas dropped at the end.
	DatabaseURL string
	// DatabaseConns sizes the started node's pool and the raw baseline's.
	DatabaseConns int
	// RedisURL is the Redis of the started node and the pub/sub baseline.
	RedisURL string
	// AdminSecret creates accounts on a node given with -url.
	AdminSecret string
	// S3 is the object store of the upload scenario, for both the direct
	// PutObject baseline and the started node.
	S3 s3.Config
}

// scenario runs one scenario with its own flags.
type scenario func(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error

var scenarios = map[string]scenario{
	"messages":    benchMessages,
	"fanout":      benchFanout,
	"encrypted":   benchEncrypted,
	"connections": benchConnections,
	"upload":      benchUpload,
	"photos":      benchPhotos,
	"video":       benchVideo,
}

// Run runs `bench <scenario> [flags]`: args[0] names the scenario.
func Run(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var names []string
	for name := range scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(args) == 0 {
		return fmt.Errorf("usage: courier bench <scenario> [flags]; scenarios: %s", strings.Join(names, ", "))
	}
	run, ok := scenarios[args[0]]
	if !ok {
		return fmt.Errorf("unknown bench scenario %q; scenarios: %s", args[0], strings.Join(names, ", "))
	}
	if cfg.Courier == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.Courier = exe
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
	return run(ctx, cfg, args[1:], stdout, stderr)
}
