package main

import "context"

// mountMessaging mounts conversations, history and the WebSocket gateway.
func (m *Main) mountMessaging(ctx context.Context) error {
	return nil
}
