package main

import (
	"context"
	"net/http"

	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/redis"
	"github.com/courier-chat/courier/upload"
	"github.com/courier-chat/courier/upload/redislock"
	"github.com/courier-chat/courier/worker"
)

// uploadHandler builds the upload endpoint on this process's services, with
// a locker of its own that the caller closes.
func (m *Main) uploadHandler() (*upload.Handler, *redislock.Locker, error) {
	c := m.Config
	locker := redislock.New(m.Redis, redislock.Config{Logger: m.Logger})
	h, err := upload.New(upload.Config{
		MaxPlain:           c.UploadMaxPlain,
		MaxE2E:             c.UploadMaxE2E,
		Expiry:             c.UploadExpiry,
		TempDir:            c.UploadTempDir,
		MaxInProgress:      c.UploadMaxInProgress,
		MaxBytesInProgress: c.UploadMaxBytes,
		TrustedProxies:     c.TrustedProxies,
		Logger:             m.Logger,
	}, upload.Deps{
		Uploads: postgres.NewUploadStore(m.DB),
		Leases:  redis.NewLeases(m.Redis, ""),
		S3:      c.S3,
		Objects: m.S3,
		Blobs:   postgres.NewBlobStore(m.DB),
		Jobs:    worker.BlobJobs{Queue: m.Queue},
		Locker:  locker,
	})
	if err != nil {
		locker.Close()
		return nil, nil, err
	}
	return h, locker, nil
}

// mountUploads mounts the tus endpoint and media downloads on the API, and
// starts this node's share of the expired-upload sweep.
func (m *Main) mountUploads(ctx context.Context) error {
	h, locker, err := m.uploadHandler()
	if err != nil {
		return err
	}
	authed := m.API.Authenticated(h)
	m.API.Handle("/v1/uploads/", authed)
	m.API.Handle("/v1/uploads", authed) // POST without the slash: no redirect
	// CORS preflights carry no token.
	m.API.Handle("OPTIONS /v1/uploads/", h)
	m.API.MountMedia(postgres.NewBlobStore(m.DB), m.S3)

	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); h.RunSweeper(sweepCtx) }()
	// Registered before the API's shutdown, so it runs after it: requests
	// finish with their locks, then the sweeper and the locker stop.
	m.onClose(func(context.Context) error {
		stopSweep()
		<-done
		return locker.Close()
	})
	return nil
}

// startUploadReconciler runs the upload reconciler on a worker node: it
// finishes uploads whose finish an outage cut short and queues again the
// jobs Redis lost (worker.Reconciler).
func (m *Main) startUploadReconciler(ctx context.Context) error {
	h, locker, err := m.uploadHandler()
	if err != nil {
		return err
	}
	r := &worker.Reconciler{
		Uploads: h,
		Blobs:   postgres.NewUploadStore(m.DB),
		Jobs:    worker.BlobJobs{Queue: m.Queue},
		Leases:  redis.NewLeases(m.Redis, ""),
		Logger:  m.Logger.With("component", "upload-reconciler"),
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); r.Run(runCtx) }()
	m.onClose(func(context.Context) error {
		stop()
		<-done
		return locker.Close()
	})
	return nil
}

var _ http.Handler = (*upload.Handler)(nil)
