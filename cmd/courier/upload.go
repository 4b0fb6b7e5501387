package main

import "context"

// mountUploads mounts the tus endpoint and media downloads on the API.
func (m *Main) mountUploads(ctx context.Context) error {
	return nil
}
