package web_test

import (
	"bufio"
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
	"github.com/courier-chat/courier/internal/testserver"
)

// TestBrowser_Vectors runs the e2e module's vector checks in Chromium:
// the same checks as TestE2EVectors_Node, on the browser's WebCrypto.
func TestBrowser_Vectors(t *testing.T) {
	env, _ := browserEnv(t)
	cluster := testserver.Start(t, testserver.Options{})
	testdata, _ := filepath.Abs("../client/e2e/testdata")
	env = append(env, "COURIER_URL="+cluster.URL(),
		"VECTORS="+filepath.Join(testdata, "vectors.json"), "HPKE_SPEC="+filepath.Join(testdata, "hpke-spec.json"))
	out, err := scenario(t, env, "vectors.mjs", nil)
	if err != nil {
		t.Fatalf("vectors in Chromium: %v\n%s", err, out)
	}
	t.Log(out)
}

// TestBrowser_E2E: an encrypted direct conversation between the page in
// Chromium and the Go client, both ways, a photo each way. The browser
// creates the conversation and sends a text and a photo; the Go client
// must decrypt both (the photo byte for byte, with the thumbnail the page
// made); its reply with a photo must show decrypted in the page. The
// page's safety number equals the Go client's; once Bob verified it, a
// new device of Alice's makes the page warn until he verifies again.
// Screenshots in .artifacts/web/: e2e-conversation.png, e2e-photo.png,
// e2e-safety.png, e2e-keys-changed.png.
func TestBrowser_E2E(t *testing.T) {
	env, _ := browserEnv(t)
	ctx := context.Background()
	cluster := testserver.Start(t, testserver.Options{MessageRate: 1000})
	alice := clienttest.OpenWith(t, register(t, cluster.URL(), "alice"), t.TempDir(), func(c *client.Config) { c.Encryption = true })
	alice.Start()
	alice.WaitOnline()
	photo, photoBytes := jpegFile(t, 1200, 800)
	env = append(env, "COURIER_URL="+cluster.URL(), "COURIER_PHOTO="+photo, "ALICE_ID="+alice.Acct.UserID)

	var bobID string
	safety := 0
	out, err := scenario(t, env, "browser.mjs", func(line string) {
		if id, ok := strings.CutPrefix(line, "BOB "); ok {
			bobID = id
		}
		n, ok := strings.CutPrefix(line, "SAFETY ")
		n2, ok2 := strings.CutPrefix(line, "SAFETY2 ")
		if ok2 {
			n = n2
		}
		if ok || ok2 {
			want, err := alice.SafetyNumber(ctx, bobID)
			if err != nil || n != want {
				t.Errorf("the page's safety number %q, the Go client's %q (%v)", n, want, err)
			}
			safety++
		}
		if ok {
			// Alice's second device: the page must warn that her keys changed.
			acct, err := client.AddDevice(ctx, alice.Acct, "tablet")
			if err != nil {
				t.Fatal(err)
			}
			acct.URL = cluster.URL()
			tablet := clienttest.OpenWith(t, acct, t.TempDir(), func(c *client.Config) { c.Encryption = true })
			tablet.Start()
			tablet.WaitOnline()
		}
		conv, ok := strings.CutPrefix(line, "CONV ")
		if !ok {
			return
		}
		ms := alice.WaitMessages(conv, "the browser's text and photo", func(ms []client.Message) bool {
			return len(ms) == 2 && !ms[0].Locked && !ms[1].Locked && len(ms[1].Attachments) == 1
		})
		if string(ms[0].Body) != "hello from the browser" || string(ms[1].Body) != "the sunset" {
			t.Errorf("the Go client read %q and %q", ms[0].Body, ms[1].Body)
		}
		checkFile(t, "browser's photo", func() (string, error) { return alice.Download(ctx, ms[1].Attachments[0], "") }, photoBytes)
		thumb, err := alice.Thumbnail(ctx, ms[1].Attachments[0])
		if err != nil {
			t.Fatalf("the browser's thumbnail: %v", err)
		}
		f, _ := os.Open(thumb)
		cfg, err := jpeg.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 320 || cfg.Height != 213 {
			t.Errorf("the browser's thumbnail is %dx%d (%v), want a 320x213 JPEG", cfg.Width, cfg.Height, err)
		}
		if _, err := alice.Send(ctx, conv, []byte("hello from go"), client.Attachment{Path: photo, Filename: "sunset.jpg", ContentType: "image/jpeg"}); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("browser.mjs: %v\n--- node and browser log:\n%s\n--- courier log:\n%s", err, out, cluster.Nodes[0].Logs())
	}
	if safety != 2 {
		t.Errorf("the page showed %d safety numbers, want 2 (before and after Alice's new device)", safety)
	}
}

// scenario runs testdata/e2e/name under Node with env, calling onLine (in
// order, on the test's goroutine) for each line it prints; it returns
// the whole output.
func scenario(t *testing.T, env []string, name string, onLine func(string)) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "e2e", name))
	cmd.Env = env
	var mu sync.Mutex
	var all bytes.Buffer
	cmd.Stderr = &lockedWriter{&mu, &all}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		mu.Lock()
		all.WriteString(sc.Text() + "\n")
		mu.Unlock()
		if onLine != nil {
			onLine(sc.Text())
		}
	}
	err = cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	return all.String(), err
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
