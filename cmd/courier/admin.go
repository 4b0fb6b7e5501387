package main

import (
	"context"
	"maps"
	"slices"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/courier-chat/courier/worker"
)

// mountAdmin puts the asynq dashboard at /admin/queues, behind the admin
// secret (a browser sends it as the basic-auth password), and the depth of
// every job queue in /metrics. Both read Redis, so any API node shows the
// whole cluster's queues, whichever node runs the workers.
func (m *Main) mountAdmin() {
	opt := m.Redis.Options()
	mon := asynqmon.New(asynqmon.Options{
		RootPath: "/admin/queues",
		RedisConnOpt: asynq.RedisClientOpt{Network: opt.Network, Addr: opt.Addr, Username: opt.Username,
			Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig},
	})
	m.onClose(func(context.Context) error { return mon.Close() })
	m.API.Handle("/admin/queues/", m.API.AdminOnly(mon))
	m.API.Handle("/admin/queues", m.API.AdminOnly(mon))

	insp := asynq.NewInspectorFromRedisClient(m.Redis)
	m.Registry.MustRegister(worker.NewQueueCollector(insp, slices.Sorted(maps.Keys(worker.Queues))))
}
