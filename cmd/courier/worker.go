package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/redis"
	"github.com/courier-chat/courier/worker"
)

// workerMux routes every job type to its handler.
func (m *Main) workerMux() (*asynq.ServeMux, error) {
	mux := m.mediaMux()
	push, err := m.pushHandler()
	if err != nil {
		return nil, err
	}
	mux.Handle(worker.TypePushNotify, push)
	return mux, nil
}

// mediaMux is the mux with the media jobs (photos, posters, MP4s) and the
// job metrics; they publish media.ready and media.failed on the same Redis
// event bus as the WebSocket gateway.
func (m *Main) mediaMux() *asynq.ServeMux {
	bus := redis.NewEventBus(m.Redis, redis.Config{Logger: m.Logger})
	m.onClose(func(context.Context) error { return bus.Close() })
	media := worker.NewMediaHandler(m.S3, postgres.NewBlobStore(m.DB), bus, m.Queue, worker.MediaConfig{
		DecodeMemory: m.Config.WorkerDecodeMemory,
		Logger:       m.Logger.With("component", "media"),
	})
	metrics := worker.NewMetrics(m.Registry)
	metrics.Known(worker.TypePushNotify)
	return worker.NewServeMux(media, metrics)
}

func workerQueues() map[string]int { return worker.Queues }

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
