package client

import (
	"context"
	"os"
	"path/filepath"
	"slices"
)

// The encrypted copies of attachments (encryptFiles) live in
// MediaDir/outgoing only until the server holds them. Each is removed when
// its upload is done, when the message that would carry it is never
// written (Send failed) or is discarded, and, for whatever a kill left
// behind (a copy made by a Send that never committed, or one whose
// removal never ran), when a client opens on the store: then nothing is
// being sent, so every file no pending upload names is an orphan.

// outgoingDir holds the ciphertext of encrypted attachments until they
// are uploaded.
func (c *Client) outgoingDir() string { return filepath.Join(c.cfg.MediaDir, "outgoing") }

// removeOutgoing deletes the encrypted copies among attachments.
func removeOutgoing(atts []Attachment) {
	for _, a := range atts {
		if a.ref != nil {
			os.Remove(a.Path)
		}
	}
}

// removeIfOutgoing deletes path when it is an encrypted copy of the
// client's own (never a file the app handed to Send).
func (c *Client) removeIfOutgoing(path string) {
	if filepath.Dir(path) == c.outgoingDir() {
		os.Remove(path)
	}
}

// sweepOutgoing deletes the files of the outgoing folder that no
// unfinished upload names. It runs in New, before anything can be sending.
func (c *Client) sweepOutgoing(ctx context.Context) error {
	entries, err := os.ReadDir(c.outgoingDir())
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	pending, err := c.store.strings(ctx, `SELECT path FROM uploads WHERE done = 0`)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(c.outgoingDir(), e.Name())
		if !slices.Contains(pending, p) {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}
