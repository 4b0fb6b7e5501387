// Command courier runs Courier: `serve` (an API node), `worker` (media and
// push jobs), `migrate` (the schema) and `dev` (serve and worker in one
// process). Every flag has a COURIER_* environment twin; `courier help`
// lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

func main() {
	smallStacks()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "courier:", err)
		os.Exit(1)
	}
}

// smallStacks turns off Go's adaptive starting stack size unless GODEBUG
// already says. An idle WebSocket is a goroutine parked in a read for
// hours, and its stack is much of what the socket costs. Go starts
// goroutines at the average stack size seen at the last GC plus a guard;
// with thousands of idle readers at about 1.3 KiB that rounds up to 4 KiB,
// so every new reader starts (and stays) at twice the 2 KiB it needs.
// `courier bench connections -connections 10000`: 10.5 KiB per idle socket
// with it, 8.5–9.4 KiB without; messages/s showed no difference beyond
// noise. The runtime reads this setting only at start (os.Setenv does not
// change it, nor does a //go:debug line, which does not know it), so the
// process executes itself again with it set: same PID, same arguments.
// If that fails it runs on as it is.
func smallStacks() {
	godebug := os.Getenv("GODEBUG")
	if strings.Contains(godebug, "adaptivestackstart=") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if godebug != "" {
		godebug += ","
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") })
	env = append(env, "GODEBUG="+godebug+"adaptivestackstart=0")
	syscall.Exec(exe, os.Args, env) // returns only when it failed
}

const usage = `Courier: the server side of a chat app, centred on media.

Usage: courier <command> [flags]

Commands:
  serve     run an API node (HTTP API, tus uploads, media, WebSocket gateway)
  worker    run a worker node (media processing and push jobs)
  dev       serve and worker in one process, migrations applied, open sign-up
  migrate   migrate up | migrate status
  bench     bench <scenario>: measure against running services
  chat      a terminal chat on the client SDK (chat -store FILE [-url URL -name NAME])
  push      push test DEVICE_ID: send a test push through the configured APNs or FCM
  version   print the version
  help      this text, and every flag

Every flag has an environment twin: -http-addr is COURIER_HTTP_ADDR.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve", "worker", "dev":
		m := NewMain(cmd)
		if err := m.ParseFlags(args, stderr); err != nil {
			return err
		}
		if err := m.Run(ctx); err != nil {
			m.Close()
			return err
		}
		<-ctx.Done()
		m.Logger.Info("shutting down", "timeout", m.Config.ShutdownTimeout.String())
		return m.Close()
	case "migrate":
		return runMigrate(ctx, args, stdout, stderr)
	case "bench":
		return runBench(ctx, args, stdout, stderr)
	case "chat":
		return runChat(ctx, args, os.Stdin, stdout, stderr)
	case "push":
		return runPush(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "courier", Version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout, "\nFlags (every command):")
		var c Config
		fs := flag.NewFlagSet("courier", flag.ContinueOnError)
		c.bind(fs)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// parseConfig binds and parses the flags of one subcommand, then validates.
func parseConfig(name string, args []string, stderr io.Writer) (Config, []string, error) {
	var c Config
	fs := flag.NewFlagSet("courier "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := c.bind(fs); err != nil {
		return c, nil, err
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if err := c.Validate(); err != nil {
		return c, nil, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, fs.Args(), nil
}
