// Package web is Courier's web chat client: plain ES modules, HTML and CSS
// under static/, embedded in the binary and served at / beside the API, so
// `make run` (courier dev) opens a working chat at http://localhost:8080/
// with no build step and nothing to install.
//
// The page is a client like the Go SDK (client/): it keeps conversations,
// messages, cursors and an outbox in IndexedDB, talks to /v1 over HTTP and
// one WebSocket, and uploads media through tus. docs/web.md describes it;
// browser_test.go drives it in Chromium.
package web
