package apns

import "time"

// SetClock sets the clock the provider token's iat is read from.
func SetClock(c *Client, now func() time.Time) { c.signer.now = now }

// Renew makes c sign a new provider token now, as a buggy provider would.
func Renew(c *Client) {
	c.signer.mu.Lock()
	defer c.signer.mu.Unlock()
	c.signer.signLocked()
}
