package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
)

// connectionsResult is one run of the connections scenario: what idle
// authenticated sockets cost the node, against a bare gorilla/websocket
// echo server (default Upgrader, one goroutine per socket) holding as many
// idle sockets, both children measured the same way (VmRSS).
type connectionsResult struct {
	Connections     int     `json:"connections"`
	EchoBeforeKiB   int64   `json:"echo_rss_before_kib"`
	EchoAfterKiB    int64   `json:"echo_rss_after_kib"`
	EchoPerConnKiB  float64 `json:"echo_per_conn_kib"`
	BeforeKiB       int64   `json:"rss_before_kib"`
	AfterKiB        int64   `json:"rss_after_kib"`
	PerConnKiB      float64 `json:"per_conn_kib"`
	Ratio           float64 `json:"ratio"` // per_conn_kib / echo_per_conn_kib
	HeapPerConnKiB  float64 `json:"heap_inuse_per_conn_kib"`
	StackPerConnKiB float64 `json:"stack_inuse_per_conn_kib"`
	GoroutinesPer   float64 `json:"goroutines_per_conn"`
	LoadAvg         string  `json:"load_average_1m"`
}

func benchConnections(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var f msgBenchFlags
	fs := flag.NewFlagSet("courier bench connections", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.bind(fs, cfg)
	n := fs.Int("connections", 10000, "idle WebSocket connections to hold")
	settle := fs.Duration("settle", 5*time.Second, "wait after the last connection before reading RSS")
	pid := fs.Int("pid", 0, "with --url: the node's process ID, to read its RSS")
	echoAddr := fs.String("echo-server", "", "internal: run as the baseline echo server on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *echoAddr != "" {
		return runEchoServer(ctx, *echoAddr)
	}
	if f.url != "" && *pid == 0 {
		return errors.New("connections with --url needs -pid, the node's process ID, to read its RSS")
	}
	if _, err := raiseFDLimit(); err != nil {
		return err
	}
	r := &connectionsResult{Connections: *n, LoadAvg: loadAverage()}

	benchProgress(stderr, "connections: echo baseline, %d sockets", *n)
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	echo, err := startBenchChild(ctx, cfg.Courier, addr, "", "bench", "connections", "-echo-server", addr)
	if err != nil {
		return err
	}
	var w benchWindow
	r.EchoBeforeKiB, r.EchoAfterKiB, err = holdConnections(ctx, echo.PID(), "http://"+addr,
		make([]benchAccount, *n), &w, *settle, nil)
	echo.Stop()
	if err != nil {
		return fmt.Errorf("echo baseline: %w", err)
	}

	t, err := newBenchTarget(ctx, &f)
	if err != nil {
		return err
	}
	defer t.Close()
	benchProgress(stderr, "connections: %d accounts", *n)
	accounts, err := createAccounts(ctx, t.Setup, "conn", *n)
	if err != nil {
		return err
	}
	if err := t.Start(ctx); err != nil {
		return err
	}
	if t.Child != nil {
		*pid = t.Child.PID()
	}
	benchProgress(stderr, "connections: %d sockets to %s", *n, t.URL)
	names := []string{"go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines"}
	var before, after map[string]float64
	var merr error
	r.BeforeKiB, r.AfterKiB, err = holdConnections(ctx, *pid, t.URL, accounts, &w, *settle, func(phase string) {
		m, err := t.metrics(names...)
		merr = errors.Join(merr, err)
		if phase == "before" {
			before = m
		} else {
			after = m
		}
	})
	if err = errors.Join(err, merr); err != nil {
		return err
	}
	per := func(name string) float64 { return (after[name] - before[name]) / float64(*n) }
	r.EchoPerConnKiB = float64(r.EchoAfterKiB-r.EchoBeforeKiB) / float64(*n)
	r.PerConnKiB = float64(r.AfterKiB-r.BeforeKiB) / float64(*n)
	r.Ratio = r.PerConnKiB / r.EchoPerConnKiB
	r.HeapPerConnKiB = per("go_memstats_heap_inuse_bytes") / 1024
	r.StackPerConnKiB = per("go_memstats_stack_inuse_bytes") / 1024
	r.GoroutinesPer = per("go_goroutines")

	if f.json {
		return printJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "connections: %d idle WebSocket connections, VmRSS of the server process before and after; load %s\n", r.Connections, r.LoadAvg)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tRSS before KiB\tRSS after KiB\tper connection KiB\t")
	fmt.Fprintf(tw, "gorilla echo server\t%d\t%d\t%.1f\t\n", r.EchoBeforeKiB, r.EchoAfterKiB, r.EchoPerConnKiB)
	fmt.Fprintf(tw, "courier serve\t%d\t%d\t%.1f\t\n", r.BeforeKiB, r.AfterKiB, r.PerConnKiB)
	fmt.Fprintf(tw, "ratio\t\t\t%.2fx\t\n", r.Ratio)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "courier per connection: heap in use %.1f KiB, goroutine stacks %.1f KiB, %.1f goroutines\n",
		r.HeapPerConnKiB, r.StackPerConnKiB, r.GoroutinesPer)
	return nil
}

// holdConnections waits settle (the server's start-up garbage), reads
// pid's RSS, opens a socket per account, waits settle again, reads RSS
// again and hangs up. measure, if any, runs next to each RSS reading.
func holdConnections(ctx context.Context, pid int, url string, accounts []benchAccount, w *benchWindow,
	settle time.Duration, measure func(phase string)) (beforeKiB, afterKiB int64, err error) {
	if measure == nil {
		measure = func(string) {}
	}
	time.Sleep(settle)
	measure("before")
	before, err := processRSS(pid)
	if err != nil {
		return 0, 0, err
	}
	devs, err := dialDevices(ctx, url, accounts, w)
	if err != nil {
		return 0, 0, err
	}
	defer closeDevices(devs)
	time.Sleep(settle)
	measure("after")
	after, err := processRSS(pid)
	if err != nil {
		return 0, 0, err
	}
	for _, d := range devs {
		if d.closed() {
			return 0, 0, errors.New("a connection closed while idle")
		}
	}
	return before >> 10, after >> 10, nil
}

// runEchoServer is the baseline: gorilla/websocket's echo example, the
// default Upgrader (net/http's 4 KiB buffers), one goroutine per socket.
func runEchoServer(ctx context.Context, addr string) error {
	var up websocket.Upgrader
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, b, err := c.ReadMessage()
			if err != nil || c.WriteMessage(mt, b) != nil {
				return
			}
		}
	})}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
