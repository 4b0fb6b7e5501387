package web_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier/internal/testserver"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "copy the README's screenshot to docs/web-client.png")

// browserEnv finds Chromium and playwright-core and fails loudly when
// either is missing: `make test` installs both (scripts/services.sh
// browser).
func browserEnv(t *testing.T) (env []string, artifacts string) {
	t.Helper()
	chromium := os.Getenv("COURIER_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium not found at %s (run ./scripts/services.sh browser): %v", chromium, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (run ./scripts/services.sh browser): %v", err)
	}
	modules := os.Getenv("COURIER_NODE_MODULES")
	if modules == "" {
		cache := os.Getenv("COURIER_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "courier")
		}
		modules = filepath.Join(cache, "node", "node_modules")
	}
	if _, err := os.Stat(filepath.Join(modules, "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core not found in %s (run ./scripts/services.sh browser): %v", modules, err)
	}
	artifacts, err = filepath.Abs(filepath.Join("..", ".artifacts", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + filepath.Dir(node) + ":" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"COURIER_CHROMIUM=" + chromium, "COURIER_NODE_MODULES=" + modules, "COURIER_ARTIFACTS=" + artifacts}, artifacts
}

// TestBrowser runs each scenario of testdata/*.mjs in Chromium against a
// real Courier (`courier dev`: API and media worker, on the shared
// PostgreSQL, Redis and S3) and fails with the scenario's log — the
// browsers' consoles among it — and the server's when one fails.
// Screenshots land in .artifacts/web/ at the repository root.
func TestBrowser(t *testing.T) {
	env, artifacts := browserEnv(t)
	cluster := testserver.Start(t, testserver.Options{})
	photo := writePhoto(t)
	video, err := filepath.Abs(filepath.Join("..", "transcode", "testdata", "tiny-faststart.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, "COURIER_URL="+cluster.URL(), "COURIER_PHOTO="+photo, "COURIER_VIDEO="+video)

	t.Run("scenarios", func(t *testing.T) {
		for _, name := range []string{"chat", "offline", "upload"} {
			t.Run(name, func(t *testing.T) {
				// Side by side: the scenarios mostly wait (on the network,
				// the worker, typing timers), and use their own users.
				t.Parallel()
				runScenario(t, name, env, artifacts, cluster, nil)
			})
		}
	})
	// Alone, after the others: it stops the server under them.
	t.Run("restart", func(t *testing.T) {
		runScenario(t, "restart", env, artifacts, cluster, func(line string, stdin io.Writer) {
			if strings.Contains(line, "@@restart") {
				cluster.Nodes[0].Stop() // SIGTERM: sockets close with 1001
				cluster.Restart(t, 0)
				io.WriteString(stdin, "restarted\n")
			}
		})
	})
	if *updateScreenshot {
		b, err := os.ReadFile(filepath.Join(artifacts, "readme.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "web-client.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writePhoto makes a 1600×1200 JPEG (a few hundred KB: large enough that
// the upload reports progress in steps) for the upload scenario.
func writePhoto(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1600, 1200))
	for y := range 1200 {
		for x := range 1600 {
			// A sunset-like gradient with noise so the JPEG does not
			// compress to nothing.
			n := uint8((x*7 + y*13 + x*y) % 23)
			img.Set(x, y, color.RGBA{uint8(255-y/6) - n, uint8(120+x/20) - n, uint8(60 + y/8), 255})
		}
	}
	path := filepath.Join(t.TempDir(), "sunset.jpg")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// runScenario runs testdata/<name>.mjs and fails with its log (the
// browsers' consoles among it) and the server's. onLine, when set, sees
// every line the scenario prints as it prints it and may answer on its
// standard input: how a scenario asks the test to act on the server.
func runScenario(t *testing.T, name string, env []string, artifacts string, cluster *testserver.Cluster,
	onLine func(line string, stdin io.Writer)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", name+".mjs"))
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if strings.Contains(line, "screenshot ") {
			t.Log(strings.TrimSpace(line))
		}
		if onLine != nil {
			onLine(line, stdin)
		}
	}
	err = cmd.Wait()
	// The log is an artifact too: each step is timestamped.
	logPath := filepath.Join(artifacts, name+".log")
	if werr := os.WriteFile(logPath, out.Bytes(), 0o644); werr != nil {
		t.Log(werr)
	}
	if err != nil {
		t.Fatalf("%s.mjs: %v after %s\n--- node and browser log:\n%s\n--- courier log:\n%s",
			name, err, time.Since(start).Round(time.Millisecond), out.String(), cluster.Nodes[0].Logs())
	}
	t.Logf("%s.mjs passed in %s (log: %s)", name, time.Since(start).Round(time.Millisecond), logPath)
}
