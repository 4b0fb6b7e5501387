package conformance

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
)

// The kill test's child: a client process that sends the plan's messages
// and exits when its outbox is empty. It is this test binary run again
// with killChildEnv set (see TestMain).
const killChildEnv = "COURIER_CLIENT_KILL_CHILD"

const killMessages = 200

// killBody is the plan: message i's body, and whether it carries a file.
func killBody(i int) (string, bool) { return fmt.Sprintf("msg-%03d", i), i%10 == 3 }

// killFile is the file message i attaches: 300 KiB, distinct per message.
// It is written under a temporary name and renamed, so a kill while it is
// being written never leaves a short file that a later run would send.
func killFile(dir string, i int) (string, error) {
	p := filepath.Join(dir, fmt.Sprintf("file-%03d.bin", i))
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, bytes.Repeat([]byte{byte(i)}, 300<<10), 0o600); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// killChild sends whatever of the plan the store does not hold yet (each
// Send is one transaction: a message is in the store or not), then waits
// for the outbox to drain. The parent kills it at random moments.
func killChild(dir string) int {
	ctx := context.Background()
	st, err := client.OpenStore(filepath.Join(dir, "store.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	acct, err := st.Account(ctx)
	if err == nil {
		// Each run connects to the node the parent chose.
		acct.URL = os.Getenv(killChildEnv + "_URL")
		err = st.SaveAccount(ctx, acct)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	conv := os.Getenv(killChildEnv + "_CONV")
	c, err := client.New(client.Config{Store: st, UploadChunk: 64 << 10, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// A message refused for good would hold the outbox for ever: say
	// which and why, rather than leave the parent to time out.
	failed := make(chan string, 1)
	go func() {
		for e := range c.Events() {
			if e, ok := e.(client.StateEvent); ok && e.State == client.MessageFailed {
				select {
				case failed <- fmt.Sprintf("message %d failed: %s", e.MessageID, e.Error):
				default:
				}
			}
		}
	}()
	c.Start()
	held, err := st.Messages(ctx, acct.UserID, conv, 0, 10*killMessages)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := len(held); i < killMessages; i++ {
		body, withFile := killBody(i)
		var files []client.Attachment
		if withFile {
			p, err := killFile(dir, i)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			files = append(files, client.Attachment{Path: p, E2E: true})
		}
		if _, err := c.Send(ctx, conv, []byte(body), files...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		time.Sleep(time.Millisecond) // a user types: the outbox drains as it fills
	}
	for {
		if n, _ := st.Outbox().Len(ctx); n == 0 {
			return 0
		}
		select {
		case reason := <-failed:
			fmt.Fprintln(os.Stderr, reason)
			return 3
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// The client process is killed (SIGKILL) at random moments while it sends
// 200 messages, a tenth with a file, and started again on the same store
// each time, on a node picked at random: every message reaches the
// recipient exactly once, in order, with its file whole.
func testOutboxSurvivesKill(t *testing.T, nodes []string) {
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, nodes[0], "alice"), clienttest.NewAccount(t, nodes[1], "bob")
	alice.Start()
	alice.WaitOnline()
	conv, err := alice.CreateDirect(ctx, bob.Acct.UserID)
	if err != nil {
		t.Fatal(err)
	}
	alice.Close()
	alice.Store().Close()

	kills := 0
	for run := 0; ; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+alice.Dir, killChildEnv+"_CONV="+conv.ID,
			killChildEnv+"_URL="+nodes[rand.IntN(len(nodes))])
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// The first runs are killed after 50–600 ms; after 10 kills the
		// child may finish.
		var kill <-chan time.Time
		if kills < 10 {
			kill = time.After(time.Duration(50+rand.IntN(550)) * time.Millisecond)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child run %d: %v\n%s", run, err, stderr.String())
			}
		case <-kill:
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
			continue
		case <-time.After(2 * time.Minute):
			cmd.Process.Signal(syscall.SIGKILL)
			t.Fatalf("child run %d did not finish\n%s", run, stderr.String())
		}
		break
	}
	t.Logf("killed the sending client %d times", kills)

	bob.Start()
	ms := bob.WaitMessages(conv.ID, "200 messages", func(ms []client.Message) bool { return len(ms) >= killMessages })
	if len(ms) != killMessages {
		t.Fatalf("bob holds %d messages, want %d", len(ms), killMessages)
	}
	for i, m := range ms {
		body, withFile := killBody(i)
		if m.Seq != int64(i+1) || string(m.Body) != body {
			t.Fatalf("message %d: seq %d body %q, want seq %d %q", i, m.Seq, m.Body, i+1, body)
		}
		if withFile != (len(m.Attachments) == 1) {
			t.Fatalf("message %d attachments %v, want a file: %v", i, m.Attachments, withFile)
		}
		if withFile {
			p, err := bob.Download(ctx, m.Attachments[0], "")
			if err != nil {
				t.Fatalf("download message %d's file: %v", i, err)
			}
			b, _ := os.ReadFile(p)
			if !bytes.Equal(b, bytes.Repeat([]byte{byte(i)}, 300<<10)) {
				t.Fatalf("message %d's file: %d bytes, not what was sent", i, len(b))
			}
		}
	}
	// The server stored nothing twice: the conversation's last seq is 200.
	c, err := bob.Store().Conversation(ctx, bob.Acct.UserID, conv.ID)
	if err != nil || c.LastSeq != killMessages {
		t.Fatalf("conversation last seq %+v, %v", c, err)
	}
}
