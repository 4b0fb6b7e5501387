package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/courier-chat/courier/client"
)

// chatHistory is how many of the open conversation's messages show.
const chatHistory = 15

// render draws the screen from the store (the one source of what to show).
func (u *chatUI) render() {
	u.mu.Lock()
	defer u.mu.Unlock()
	ctx := u.ctx
	var b strings.Builder
	b.WriteString("\033[H\033[2J")
	fmt.Fprintf(&b, "courier chat · %s · %s\r\n", contactName(ctx, u.st, u.me.UserID), u.state)
	list, _ := u.st.Conversations(ctx, u.me.UserID, 9)
	for i, c := range list {
		mark := " "
		if c.ID == u.open {
			mark = ">"
		}
		fmt.Fprintf(&b, "%s%d %s", mark, i+1, u.title(c))
		if c.Unread > 0 {
			fmt.Fprintf(&b, " (%d unread)", c.Unread)
		}
		b.WriteString("\r\n")
	}
	if u.open != "" {
		c, _ := u.st.Conversation(ctx, u.me.UserID, u.open)
		if c != nil {
			fmt.Fprintf(&b, "── %s ──\r\n", u.title(*c))
		}
		msgs, _ := u.st.Messages(ctx, u.me.UserID, u.open, 0, chatHistory)
		for _, m := range msgs {
			body := string(m.Body)
			if m.Locked {
				body = "🔒 (not readable on this device)"
			}
			fmt.Fprintf(&b, "%s %s: %s%s\r\n", m.Time.Local().Format("15:04"), contactName(ctx, u.st, m.SenderID), body, marks(m))
			for _, id := range m.Attachments {
				fmt.Fprintf(&b, "      📎 %s\r\n", u.blobText(id))
			}
			for _, up := range m.Uploads {
				fmt.Fprintf(&b, "      📎 %s uploading\r\n", up.Filename)
			}
		}
		now := time.Now()
		for key, until := range u.typing {
			conv, user, _ := strings.Cut(key, " ")
			if conv == u.open && now.Before(until) {
				fmt.Fprintf(&b, "%s is typing…\r\n", contactName(ctx, u.st, user))
			}
		}
	}
	if u.notice != "" {
		fmt.Fprintf(&b, "! %s\r\n", u.notice)
	}
	fmt.Fprintf(&b, "> %s", u.input)
	io.WriteString(u.out, b.String())
}

// marks are the ticks of an own message: … pending, ✓ sent, ✓✓
// delivered, ✓✓ read, ✗ failed.
func marks(m client.Message) string {
	switch m.State {
	case client.MessagePending:
		return "  …"
	case client.MessageSent:
		return "  ✓"
	case client.MessageDelivered:
		return "  ✓✓"
	case client.MessageRead:
		return "  ✓✓ read"
	case client.MessageFailed:
		return "  ✗ " + m.Error
	}
	return ""
}

func (u *chatUI) blobText(id string) string {
	if s, ok := u.blobs[id]; ok {
		return s
	}
	return id
}

// title names a conversation: a group's name, or the other member's; a
// lock marks an end-to-end encrypted one.
func (u *chatUI) title(c client.Conversation) string {
	if c.Encrypted {
		c.Encrypted = false
		return u.title(c) + " 🔒"
	}
	if c.Name != "" {
		return c.Name
	}
	ms, _ := u.st.Members(u.ctx, c.ID)
	for _, m := range ms {
		if m.UserID != u.me.UserID {
			return contactName(u.ctx, u.st, m.UserID)
		}
	}
	return c.ID
}

// Contacts: the names this user gave other users (the server has no user
// directory), kept in the store's settings.
func saveContact(ctx context.Context, st *client.Store, userID, name string) {
	st.SetSetting(ctx, "contact:"+userID, name)
}

func contactName(ctx context.Context, st *client.Store, userID string) string {
	if n, _ := st.Setting(ctx, "contact:"+userID); n != "" {
		return n
	}
	if len(userID) > 6 {
		return userID[:6]
	}
	return userID
}

func contentTypeOf(path string) string {
	if t := mime.TypeByExtension(filepath.Ext(path)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// rawTerminal turns off line buffering and echo (the chat echoes itself,
// so it sees each keystroke for typing) and returns the undo. Without a
// terminal it changes nothing: input is read line by line.
func rawTerminal(stdin io.Reader) func() {
	f, ok := stdin.(*os.File)
	if !ok {
		return func() {}
	}
	stty := func(args ...string) ([]byte, error) {
		cmd := exec.Command("stty", args...)
		cmd.Stdin = f
		return cmd.Output()
	}
	saved, err := stty("-g")
	if err != nil {
		return func() {}
	}
	if _, err := stty("-icanon", "-echo", "min", "1"); err != nil {
		return func() {}
	}
	return func() { stty(strings.TrimSpace(string(saved))) }
}

// discardLogger keeps the client's diagnostics off the chat's screen.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
