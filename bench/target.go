package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/courier-chat/courier/s3"
)

// msgBenchFlags are the flags every messaging scenario shares.
type msgBenchFlags struct {
	json        bool
	url         string
	adminSecret string
	databaseURL string
	redisURL    string
	dbConns     int
	bodySize    int
	courier     string    // the binary whose serve is started
	s3          s3.Config // the started node's object store
}

func (f *msgBenchFlags) bind(fs *flag.FlagSet, defaults Config) {
	f.courier, f.s3 = defaults.Courier, defaults.S3
	fs.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	fs.StringVar(&f.url, "url", "", "measure this running node (http://host:port) instead of starting `courier serve`")
	fs.StringVar(&f.adminSecret, "admin-secret", defaults.AdminSecret, "admin secret of the --url node, to create accounts")
	fs.StringVar(&f.databaseURL, "database-url", defaults.DatabaseURL, "PostgreSQL for the baseline and the started node; each run uses fresh schemas it drops")
	fs.StringVar(&f.redisURL, "redis-url", defaults.RedisURL, "Redis for the started node and the pub/sub baseline")
	fs.IntVar(&f.dbConns, "database-conns", defaults.DatabaseConns, "PostgreSQL connections of the started node, and of the raw baseline")
	fs.IntVar(&f.bodySize, "body", 256, "message body bytes (the first 8 carry the send time)")
}

// benchTarget is the node a scenario measures: a `courier serve` child on
// a fresh schema, or a running node (--url).
type benchTarget struct {
	URL    string
	Setup  benchSetup
	Child  *benchChild // nil with --url
	flags  *msgBenchFlags
	schema *benchSchema
}

// newBenchTarget prepares the target. For a child, the schema exists and
// is migrated but the node starts only at Start, so accounts created
// before it cost the node nothing.
func newBenchTarget(ctx context.Context, f *msgBenchFlags) (*benchTarget, error) {
	if _, err := raiseFDLimit(); err != nil {
		return nil, fmt.Errorf("raise open-files limit: %w", err)
	}
	if f.url != "" {
		return &benchTarget{URL: strings.TrimSuffix(f.url, "/"), Setup: newHTTPSetup(f.url, f.adminSecret), flags: f}, nil
	}
	s, err := newBenchSchema(ctx, f.databaseURL, 8)
	if err != nil {
		return nil, err
	}
	return &benchTarget{Setup: newDBSetup(s.Pool), flags: f, schema: s}, nil
}

// Start starts the child node (nothing with --url). The per-device send
// limit (default 20/s) would cap a closed-loop sender: the bench measures
// the store and the fan-out, not the limiter.
func (t *benchTarget) Start(ctx context.Context) error {
	if t.schema == nil {
		return nil
	}
	var err error
	t.Child, err = startServe(ctx, t.flags.courier, t.flags.s3,
		"-database-url="+t.schema.URL, "-database-conns="+strconv.Itoa(t.flags.dbConns), "-redis-url="+t.flags.redisURL,
		"-message-rate=1000000", "-message-burst=1000000")
	if err != nil {
		return err
	}
	t.URL = t.Child.URL
	return nil
}

// Close stops the child and drops the schema.
func (t *benchTarget) Close() {
	if t.Child != nil {
		t.Child.Stop()
	}
	if t.schema != nil {
		t.schema.Drop()
	}
}

// metrics reads gauges from the node's /metrics (Prometheus text format).
func (t *benchTarget) metrics(names ...string) (map[string]float64, error) {
	resp, err := http.Get(t.URL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		for _, n := range names {
			if f[0] == n {
				out[n], _ = strconv.ParseFloat(f[1], 64)
			}
		}
	}
	return out, sc.Err()
}

// loadAverage is the first field of /proc/loadavg: the bench's noise.
func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// benchProgress tells stderr what a long setup is doing.
func benchProgress(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
