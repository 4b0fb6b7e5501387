package redislock

import (
	"context"
	"time"
)

// renew extends hd's lease every LeaseTTL/3 until Unlock or Close stops it. Two
// missed renewals still leave a third of the lease to spare.
//
// When the lease is lost, either because Redis says the key is gone or
// carries another token, or because no renewal succeeded for a whole
// LeaseTTL, the holder is asked to release, exactly as if another node had
// asked. That is the only signal tusd takes mid-request: it closes the
// request body and the PATCH ends, but whatever the store writes between
// the loss and that point is unprotected (tusd's stores take no fencing
// token). See the package documentation.
func (k *lock) renew(hd *holding, acquired time.Time) {
	l := k.locker
	every := l.cfg.LeaseTTL / 3
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	lastOK := acquired
	ttl := l.cfg.LeaseTTL.Milliseconds()
	for {
		select {
		case <-hd.stop:
			return
		case <-l.closed:
			return
		case <-ticker.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), every)
		n, err := renewScript.Run(ctx, l.client, []string{k.key}, hd.token, ttl).Int()
		cancel()
		if stopped(hd) {
			// Unlocked while the call was in flight: a failed compare
			// means our own DEL, not a loss.
			return
		}
		switch {
		case err == nil && n == 1:
			lastOK = sent
		case err == nil:
			l.log.Error("lease lost: lock expired or taken over; interrupting the request", "upload", k.id)
			hd.ask()
			return
		case time.Since(lastOK) >= l.cfg.LeaseTTL:
			l.log.Error("lease lapsed while Redis was unreachable; interrupting the request", "upload", k.id, "error", err)
			hd.ask()
			return
		default:
			l.log.Warn("lease renewal failed; will retry", "upload", k.id, "error", err)
		}
	}
}

func stopped(hd *holding) bool {
	select {
	case <-hd.stop:
		return true
	default:
		return false
	}
}
