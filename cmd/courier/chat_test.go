package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
)

// tmuxSession is a terminal driven by a test: keys in, screen out.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func newTmux(t *testing.T, socket, name, command string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: socket, name: name}
	s.tmux("new-session", "-d", "-s", name, "-x", "110", "-y", "40", command)
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys types text (literally) and, with enter, presses Enter.
func (s *tmuxSession) keys(text string, enter bool) {
	s.t.Helper()
	if text != "" {
		s.tmux("send-keys", "-t", s.name, "-l", text)
	}
	if enter {
		s.tmux("send-keys", "-t", s.name, "Enter")
	}
}

// screen returns what the pane shows.
func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", s.name) }

// wait waits until the screen shows every one of want.
func (s *tmuxSession) wait(want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := s.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(scr, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s's screen never showed %q:\n%s", s.name, missing, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Two users chat in two terminals: a conversation with an unread count,
// ticks moving to read, typing, a photo with its thumbnail's details,
// history shown from the store at start, and a message written while the
// server is down delivered when it is back; then the same in an encrypted
// conversation.
func TestChat_TwoTerminals(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is missing: run scripts/services.sh")
	}
	cfg := testConfig(t)
	cfg.HTTPAddr = freeAddr(t) // a fixed address, to restart the server on
	srv := startProcess(t, "dev", cfg)
	bin := courierBinary(t)
	dir := t.TempDir()
	ctx := context.Background()
	stores := map[string]string{}
	var aliceID, bobID string
	for _, name := range []string{"alice", "bob"} {
		stores[name] = filepath.Join(dir, name+".db")
		cmd := exec.Command(bin, "chat", "-store", stores[name], "-url", srv.URL, "-name", name)
		cmd.Stdin = strings.NewReader("/quit\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chat -name %s: %v\n%s", name, err, out)
		}
		st, err := client.OpenStore(stores[name])
		if err != nil {
			t.Fatal(err)
		}
		acct, _ := st.Account(ctx)
		st.Close()
		if name == "bob" {
			bobID = acct.UserID
		} else {
			aliceID = acct.UserID
		}
	}
	socket := fmt.Sprintf("courier-chat-%d", os.Getpid())
	t.Cleanup(func() { exec.Command("tmux", "-L", socket, "kill-server").Run() })
	chat := func(name string) *tmuxSession {
		return newTmux(t, socket, name, bin+" chat -store "+stores[name])
	}
	alice, bob := chat("alice"), chat("bob")
	alice.wait("courier chat · alice · online")
	bob.wait("courier chat · bob · online")

	alice.keys("/new "+bobID+" bob", true)
	alice.wait("── bob ──")
	alice.keys("hello bob", true)
	alice.wait("alice: hello bob  ✓")
	bob.wait("(1 unread)")
	alice.wait("alice: hello bob  ✓✓")
	bob.keys("/new "+aliceID+" alice", true) // the same conversation; names alice
	bob.wait("alice: hello bob")
	alice.wait("alice: hello bob  ✓✓ read")

	// Bob types for a second: alice sees it, then his message.
	for _, ch := range "hi alice" {
		bob.keys(string(ch), false)
		time.Sleep(120 * time.Millisecond)
	}
	alice.wait("is typing…")
	bob.keys("", true)
	alice.wait("hi alice")

	photo := filepath.Join(dir, "beach.jpg")
	os.WriteFile(photo, gpsJPEG(t, 800, 600), 0o600)
	alice.keys("/file "+photo, true)
	alice.wait("thumb 320x240", "(ready)")
	bob.wait("beach.jpg image/jpeg", "thumb 320x240")

	// History comes from the store at start, before the network.
	bob.keys("/quit", true)
	time.Sleep(300 * time.Millisecond)
	bob = chat("bob")
	bob.keys("/open 1", true)
	bob.wait("alice: hello bob", "bob: hi alice")

	// The server goes away; alice writes anyway; it arrives when it is back.
	srv.Close()
	alice.wait("· offline")
	alice.keys("written offline", true)
	alice.wait("alice: written offline  …")
	startProcess(t, "dev", cfg)
	bob.wait("alice: written offline")
	alice.wait("alice: written offline  ✓✓")

	// An end-to-end encrypted conversation works the same.
	alice.keys("/enew "+bobID+" bob", true)
	alice.wait("── bob 🔒 ──")
	alice.keys("sealed hello", true)
	alice.wait("alice: sealed hello  ✓✓")
	bob.wait("1 alice 🔒")
	bob.keys("/open 1", true)
	bob.wait("── alice 🔒 ──", "alice: sealed hello")
	bob.keys("sealed reply", true)
	alice.wait("bob: sealed reply")
}
