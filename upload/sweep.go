package upload

import (
	"context"
	"time"

	"github.com/courier-chat/courier"
)

// sweepBatch bounds the uploads one sweep handles; the next sweep takes
// the rest.
const sweepBatch = 100

// RunSweeper removes expired uploads every SweepInterval until ctx ends.
// Every API node runs it; a lease (redis.Leases) taken for one interval
// makes sure only one node sweeps at a time.

func (h *Handler) RunSweeper(ctx context.Context) {
	t := time.NewTicker(h.cfg.SweepInterval)
	defer t.Stop()
	lease := "upload-sweeper:" + h.bucket
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := h.leases.TryLease(ctx, lease, h.cfg.SweepInterval)
		if err != nil || !ok {
			continue // another node sweeps this round, or Redis is away
		}
		if n, err := h.Sweep(ctx); err != nil {
			h.log.Error("upload sweep", "err", err, "swept", n)
		} else if n > 0 {
			h.log.Info("upload sweep", "swept", n)
		}
	}
}

// Sweep handles one batch of expired uploads: an unfinished one has its S3
// multipart upload aborted and its .info and .part objects deleted, and is
// marked expired; a finished one loses its tus bookkeeping (.info), the
// blob itself stays. It returns how many it handled.
func (h *Handler) Sweep(ctx context.Context) (int, error) {
	expired, err := h.uploads.ExpiredUploads(ctx, sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range expired {
		if err := h.sweepOne(ctx, u); err != nil {
			h.log.Warn("sweep upload", "upload_id", u.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

func (h *Handler) sweepOne(ctx context.Context, u *courier.Upload) error {
	if u.State == courier.UploadFinished {
		for _, suffix := range []string{".info", ".part"} {
			if err := h.objects.Remove(ctx, uploadPrefix+u.ID+suffix); err != nil {
				return err
			}
		}
		return h.uploads.RetireUpload(ctx, u)
	}
	// Take the upload's lock, so a request still writing is stopped (it
	// is asked to release) before its parts are aborted under it.
	l, err := h.locker.NewLock(u.ID)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, h.cfg.AcquireLockTimeout)
	defer cancel()
	if err := l.Lock(lctx, func() {}); err != nil {
		return err
	}
	defer l.Unlock()
	if u.MultipartID != "" {
		// Loading finishes an upload whose bytes all came in: that one
		// becomes a blob, not garbage (the next sweep tidies it).
		up, err := h.store.GetUpload(withRow(ctx, u), u.ID)
		if err != nil {
			return err
		}
		if now, err := h.uploads.Upload(ctx, u.ID); err != nil || now.State != courier.UploadActive {
			return err
		}
		if err := h.store.AsTerminatableUpload(up).Terminate(ctx); err != nil {
			return err
		}
	}
	return h.uploads.RetireUpload(ctx, u)
}
