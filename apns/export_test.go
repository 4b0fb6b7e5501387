package apns

import "time"

// SetClock sets the clock the provider token's iat is read from.
func SetClock(c *Client, now func() time.Time) { c.signer.now = now }
