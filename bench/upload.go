package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/courier-chat/courier/s3"
)

// benchUpload compares tus uploads through a `courier serve` child process
// with direct minio-go PutObject calls of the same bytes to the same S3, in
// the same run, and samples the child's RSS during the big upload.
func benchUpload(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("courier bench upload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	big := fs.Int64("big", 1<<30, "size of the single big upload in bytes")
	small := fs.Int64("small", 32<<20, "size of each concurrent upload in bytes")
	n := fs.Int("concurrent", 32, "number of concurrent uploads")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	direct, err := s3.New(cfg.S3)
	if err != nil {
		return err
	}
	if err := direct.EnsureBucket(ctx); err != nil {
		return err
	}
	// A scratch schema, as the messaging benches use, so the bench's
	// accounts and uploads never land in the node's own database.
	schema, err := newBenchSchema(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer schema.Drop()
	// One bench user uploads like many phones: lift per-user limits.
	srv, err := startServe(ctx, cfg.Courier, cfg.S3, "-database-url="+schema.URL, "-redis-url="+cfg.RedisURL,
		"-upload-max-in-progress=10000", "-upload-max-bytes-in-progress=1125899906842624")
	if err != nil {
		return err
	}
	defer srv.Stop()
	token, err := signup(srv.URL)
	if err != nil {
		return err
	}

	var rows []benchRow
	// One big file: direct first, then tus while sampling RSS.
	d, err := timeIt(func() error { return directPut(ctx, direct, "bench/direct-big", *big, 1) })
	if err != nil {
		return err
	}
	var peak atomic.Int64
	stopSampling := samplePeakRSS(srv.PID(), &peak)
	tusD, err := timeIt(func() error { return tusUpload(srv.URL, token, *big, 1) })
	stopSampling()
	if err != nil {
		return err
	}
	rows = append(rows, newBenchRow(fmt.Sprintf("1 × %s", sizeName(*big)), *big, d, tusD, peak.Load()))

	// Many phones at once.
	d, err = timeIt(func() error {
		return parallel(*n, func(i int) error {
			return directPut(ctx, direct, fmt.Sprintf("bench/direct-%d", i), *small, uint64(i+2))
		})
	})
	if err != nil {
		return err
	}
	tusD, err = timeIt(func() error {
		return parallel(*n, func(i int) error { return tusUpload(srv.URL, token, *small, uint64(i+2)) })
	})
	if err != nil {
		return err
	}
	rows = append(rows, newBenchRow(fmt.Sprintf("%d × %s concurrent", *n, sizeName(*small)), *small*int64(*n), d, tusD, 0))
	direct.RemovePrefix(ctx, "bench/")

	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"scenario": "upload", "rows": rows})
	}
	fmt.Fprintf(stdout, "%-24s %12s %12s %7s %14s\n", "case", "PutObject", "tus", "ratio", "serve peak RSS")
	for _, r := range rows {
		rss := "-"
		if r.PeakRSS > 0 {
			rss = fmt.Sprintf("%d MiB", r.PeakRSS>>20)
		}
		fmt.Fprintf(stdout, "%-24s %9.0f MB/s %9.0f MB/s %7.2f %14s\n", r.Case, r.DirectMBps, r.TusMBps, r.Ratio, rss)
	}
	return nil
}

type benchRow struct {
	Case       string  `json:"case"`
	Bytes      int64   `json:"bytes"`
	DirectMBps float64 `json:"direct_put_mb_s"`
	TusMBps    float64 `json:"tus_mb_s"`
	Ratio      float64 `json:"ratio"`
	PeakRSS    int64   `json:"serve_peak_rss_bytes,omitempty"`
}

func newBenchRow(name string, bytes int64, direct, tus time.Duration, rss int64) benchRow {
	mbps := func(d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }
	return benchRow{Case: name, Bytes: bytes, DirectMBps: mbps(direct), TusMBps: mbps(tus), Ratio: direct.Seconds() / tus.Seconds(), PeakRSS: rss}
}

func timeIt(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

func parallel(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(i) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func sizeName(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return strconv.FormatInt(n>>30, 10) + " GiB"
	}
	return strconv.FormatInt(n>>20, 10) + " MiB"
}

// randomStream yields size pseudo-random bytes from seed, generated on the
// fly so a 1 GiB upload needs no 1 GiB buffer; the same seed gives the same
// bytes to PutObject and tus.
func randomStream(size int64, seed uint64) io.Reader {
	var key [32]byte
	key[0] = byte(seed)
	return io.LimitReader(rand.NewChaCha8(key), size)
}

func directPut(ctx context.Context, c *s3.Client, key string, size int64, seed uint64) error {
	_, err := c.Put(ctx, key, randomStream(size, seed), size, "application/octet-stream")
	return err
}

// signup creates the bench account on the node at baseURL.
func signup(baseURL string) (string, error) {
	resp, err := http.Post(baseURL+"/v1/accounts", "application/json", strings.NewReader(`{"name":"bench","device_name":"bench"}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var a struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&a)
	if resp.StatusCode != 201 || a.Token == "" {
		return "", fmt.Errorf("signup: %s", resp.Status)
	}
	return a.Token, nil
}

// tusUpload creates an upload and sends it in one PATCH, as a phone on a
// good network does; e2e mode, so no processing job is queued.
func tusUpload(baseURL, token string, size int64, seed uint64) error {
	req, _ := http.NewRequest("POST", baseURL+"/v1/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Upload-Metadata", "mode ZTJl") // "e2e"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		return fmt.Errorf("tus create: %s", resp.Status)
	}
	req, _ = http.NewRequest("PATCH", resp.Header.Get("Location"), randomStream(size, seed))
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		return fmt.Errorf("tus patch: %s", resp.Status)
	}
	return nil
}

// samplePeakRSS records the peak VmRSS of pid every 20ms until stopped.
func samplePeakRSS(pid int, peak *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, err := processRSS(pid); err == nil && rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
