package client

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/courier-chat/courier"
)

// sendKillEnv names the store folder of the send kill test's child: this
// test binary run again, sending encrypted photos until it is killed.
const sendKillEnv = "COURIER_CLIENT_SEND_KILL_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(sendKillEnv); dir != "" {
		os.Exit(sendKillChild(dir))
	}
	os.Exit(m.Run())
}

// sendKillChild sends photos to the store's encrypted conversation, one
// after another, never connecting: Send alone writes the message, its
// uploads, the encrypted copies and their keys.
func sendKillChild(dir string) int {
	ctx := context.Background()
	st, err := OpenStore(filepath.Join(dir, "store.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := New(Config{Store: st, MediaDir: filepath.Join(dir, "media"), Encryption: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := 0; ; i++ {
		// Mostly small files, whose sends are quick (the transactions
		// are most of their time), and now and then a photo with its
		// thumbnail.
		file := filepath.Join(dir, "note.txt")
		if i%8 == 0 {
			file = filepath.Join(dir, "photo.jpg")
		}
		if _, err := c.Send(ctx, sendKillConv, []byte(fmt.Sprint(i)), Attachment{Path: file}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
}

const sendKillConv = "AAAAAAAAAAAAAAAAAAAAAA"

// A client killed at random moments while it sends photos to an
// encrypted conversation: every message the store holds has the key of
// each encrypted file and its thumbnail (written in the transaction that
// writes the message, never after it), and once a client opens on the
// store again, the outgoing folder holds exactly the encrypted copies
// that unfinished uploads name (a copy made by a Send the kill cut short
// is removed; none still needed is).
func TestSendKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	st, err := OpenStore(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveAccount(ctx, Account{URL: "http://127.0.0.1:1", UserID: courier.NewID(), DeviceID: courier.NewID(), Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.ExecContext(ctx, `INSERT INTO conversations(id, kind, known, encrypted) VALUES(?, 'group', 1, 1)`, sendKillConv); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var photo bytes.Buffer
	jpeg.Encode(&photo, image.NewRGBA(image.Rect(0, 0, 160, 120)), nil)
	if err := os.WriteFile(filepath.Join(dir, "photo.jpg"), photo.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "note.txt"), []byte("a note"), 0o600); err != nil {
		t.Fatal(err)
	}

	for kill := 0; kill < 10; kill++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), sendKillEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+rand.IntN(1000)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() == 2 {
			t.Fatalf("child ended on its own: %v\n%s", err, stderr.Bytes())
		}
		checkSendKilled(t, dir)
	}
}

// checkSendKilled opens the store and a client on it (which sweeps the
// outgoing folder) and checks both.
func checkSendKilled(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	st, err := OpenStore(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := New(Config{Store: st, MediaDir: filepath.Join(dir, "media"), Encryption: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var messages, keyless, photos, thumbs int
	err = st.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM messages),
		(SELECT COUNT(*) FROM uploads u WHERE NOT EXISTS (SELECT 1 FROM e2e_media e WHERE e.upload_id = u.id)),
		(SELECT COUNT(*) FROM messages m JOIN uploads u ON u.message_id = m.id AND u.position = 0
			WHERE CAST(m.body AS TEXT) % 8 = 0),
		(SELECT COUNT(*) FROM e2e_media WHERE thumbnail_upload <> '')`).Scan(&messages, &keyless, &photos, &thumbs)
	if err != nil {
		t.Fatal(err)
	}
	if keyless != 0 || thumbs != photos {
		t.Fatalf("%d messages: %d uploads without their key; %d thumbnails tied to the %d photos", messages, keyless, thumbs, photos)
	}
	named, err := st.strings(ctx, `SELECT path FROM uploads WHERE done = 0`)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(c.outgoingDir())
	var there []string
	for _, e := range entries {
		there = append(there, filepath.Join(c.outgoingDir(), e.Name()))
	}
	slices.Sort(named)
	slices.Sort(there)
	if !slices.Equal(named, there) {
		t.Fatalf("%d messages: the outgoing folder holds %d files, the uploads name %d", messages, len(there), len(named))
	}
}
