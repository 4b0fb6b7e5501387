package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
)

// runChat is `courier chat`: a terminal chat on the client SDK. The store
// is read before anything connects, so history shows at once, offline too.
func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home, _ := os.UserHomeDir()
	storePath := fs.String("store", filepath.Join(home, ".courier", "chat.db"), "the local store (created on first use)")
	url := fs.String("url", "http://127.0.0.1:8080", "the Courier server, for a new store")
	name := fs.String("name", "", "create an account with this name on a new store (needs open sign-up, as `courier dev` has)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*storePath), 0o700); err != nil {
		return err
	}
	st, err := client.OpenStore(*storePath)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Account(ctx); errors.Is(err, client.ErrNoAccount) {
		if *name == "" {
			return fmt.Errorf("chat: %s holds no account: pass -name to create one on %s", *storePath, *url)
		}
		acct, err := client.Register(ctx, *url, *name, "courier chat")
		if err != nil {
			return fmt.Errorf("chat: create account on %s: %w", *url, err)
		}
		if err := st.SaveAccount(ctx, acct); err != nil {
			return err
		}
		saveContact(ctx, st, acct.UserID, *name)
	} else if err != nil {
		return err
	}
	c, err := client.New(client.Config{Store: st, MediaDir: filepath.Join(filepath.Dir(*storePath), "media"),
		Logger: discardLogger(), Encryption: true})
	if err != nil {
		return err
	}
	ui := &chatUI{c: c, st: st, me: c.Account(), out: stdout, typing: map[string]time.Time{},
		blobs: map[string]string{}, state: client.Offline, ctx: ctx}
	ui.render() // the store alone: history before any network
	restore := rawTerminal(stdin)
	defer restore()
	go ui.events()
	c.Start()
	defer c.Close()
	return ui.readInput(stdin)
}

// chatUI draws the whole screen again on every change: the conversation
// list with unread counts, the open conversation's newest messages with
// their marks, who is typing, and the line being typed.
type chatUI struct {
	c      *client.Client
	st     *client.Store
	me     client.Account
	out    io.Writer
	ctx    context.Context
	mu     sync.Mutex
	open   string               // the open conversation
	input  []byte               // the line being typed
	typing map[string]time.Time // "conv user" → until when
	blobs  map[string]string    // blob ID → what to show of it
	state  client.ConnectionState
	notice string
}

// events applies the client's events to the screen.
func (u *chatUI) events() {
	for e := range u.c.Events() {
		u.mu.Lock()
		switch e := e.(type) {
		case client.ConnectionEvent:
			u.state = e.State
		case client.TypingEvent:
			key := e.ConversationID + " " + e.UserID
			if e.Typing {
				u.typing[key] = e.Expires
				time.AfterFunc(time.Until(e.Expires)+50*time.Millisecond, u.render)
			} else {
				delete(u.typing, key)
			}
		case client.MessageEvent:
			for _, id := range e.Message.Attachments {
				go u.fetchBlob(id)
			}
			if e.Message.ConversationID == u.open {
				go u.c.MarkRead(u.ctx, u.open, e.Message.Seq)
			}
			delete(u.typing, e.Message.ConversationID+" "+e.Message.SenderID)
		case client.MediaEvent:
			if e.State == "ready" || e.State == "failed" {
				go u.fetchBlob(e.BlobID)
			}
		}
		u.mu.Unlock()
		u.render()
	}
}

// fetchBlob learns what to show of an attachment: its name and size, and
// once processed its thumbnail's size. A blob still processing is asked
// again a few times (only its owner hears media.ready).
func (u *chatUI) fetchBlob(id string) {
	for range 30 {
		b, err := u.c.Blob(u.ctx, id)
		if err == nil {
			s := fmt.Sprintf("%s %s %d bytes", b.Filename, b.ContentType, b.Size)
			if b.Width > 0 {
				s += fmt.Sprintf(" %dx%d", b.Width, b.Height)
			}
			if t := b.Variant("thumb"); t != nil {
				s += fmt.Sprintf(", thumb %dx%d %s", t.Width, t.Height, t.ContentType)
			}
			if b.State == courier.BlobFailed {
				s += ", failed: " + b.FailReason
			}
			u.mu.Lock()
			u.blobs[id] = s + " (" + string(b.State) + ")"
			u.mu.Unlock()
			u.render()
			if b.State != courier.BlobProcessing {
				return
			}
		}
		time.Sleep(time.Second)
	}
}

// readInput reads keystrokes (or lines, when stdin is not a terminal)
// until /quit or the end of input.
func (u *chatUI) readInput(stdin io.Reader) error {
	r := bufio.NewReader(stdin)
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil
		}
		u.mu.Lock()
		switch b {
		case '\r', '\n':
			line := strings.TrimSpace(string(u.input))
			u.input = u.input[:0]
			u.mu.Unlock()
			if line == "/quit" {
				return nil
			}
			if line != "" {
				u.command(line)
			}
			u.render()
			continue
		case 127, 8: // backspace: drop the last UTF-8 character
			for len(u.input) > 0 {
				last := u.input[len(u.input)-1]
				u.input = u.input[:len(u.input)-1]
				if last&0xC0 != 0x80 {
					break
				}
			}
		default:
			if b >= 0x20 || b == '\t' {
				u.input = append(u.input, b)
				if u.open != "" && !strings.HasPrefix(string(u.input), "/") {
					u.c.Typing(u.open)
				}
			}
		}
		u.mu.Unlock()
		u.render()
	}
}

// command runs one line: a /command, or a message to the open
// conversation.
func (u *chatUI) command(line string) {
	ctx := u.ctx
	f := strings.Fields(line)
	var err error
	switch {
	case (f[0] == "/new" || f[0] == "/enew") && len(f) >= 2:
		var conv *client.Conversation
		nc := courier.NewConversation{Kind: courier.ConversationDirect, UserID: f[1], Encrypted: f[0] == "/enew"}
		if conv, err = u.c.Create(ctx, nc); err == nil {
			if len(f) >= 3 {
				saveContact(ctx, u.st, f[1], f[2])
			}
			u.openConversation(conv.ID)
		}
	case (f[0] == "/group" || f[0] == "/egroup") && len(f) >= 3:
		var conv *client.Conversation
		nc := courier.NewConversation{Kind: courier.ConversationGroup, Name: f[1], Members: strings.Split(f[2], ","),
			Encrypted: f[0] == "/egroup"}
		if conv, err = u.c.Create(ctx, nc); err == nil {
			u.openConversation(conv.ID)
		}
	case f[0] == "/open" && len(f) == 2:
		list, _ := u.st.Conversations(ctx, u.me.UserID, 9)
		n, _ := strconv.Atoi(f[1])
		if n < 1 || n > len(list) {
			err = fmt.Errorf("no conversation %s", f[1])
		} else {
			u.openConversation(list[n-1].ID)
		}
	case f[0] == "/file" && len(f) == 2 && u.open != "":
		_, err = u.c.Send(ctx, u.open, nil, client.Attachment{Path: f[1], ContentType: contentTypeOf(f[1])})
	case strings.HasPrefix(line, "/"):
		err = errors.New("commands: /new USER-ID [NAME], /group NAME ID,ID (/enew, /egroup: end-to-end encrypted), /open N, /file PATH, /quit")
	case u.open == "":
		err = errors.New("open a conversation first (/open N or /new USER-ID)")
	default:
		_, err = u.c.Send(ctx, u.open, []byte(line))
	}
	u.mu.Lock()
	u.notice = ""
	if err != nil {
		u.notice = err.Error()
	}
	u.mu.Unlock()
}

// openConversation shows a conversation and marks it read.
func (u *chatUI) openConversation(id string) {
	u.mu.Lock()
	u.open = id
	u.mu.Unlock()
	if c, err := u.st.Conversation(u.ctx, u.me.UserID, id); err == nil && c.LastSeq > 0 {
		u.c.MarkRead(u.ctx, id, c.LastSeq)
	}
}
