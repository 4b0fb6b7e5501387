package main

import (
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier/worker"
)

// workerMux routes every job type to its handler.
func (m *Main) workerMux() *asynq.ServeMux {
	return asynq.NewServeMux()
}

func workerQueues() map[string]int { return worker.Queues }

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
