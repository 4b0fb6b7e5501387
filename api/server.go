package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier"
)

// Config configures a Server.
type Config struct {
	// Addr to listen on. Default ":8080".
	Addr string
	// AdminSecret guards account creation (outside OpenSignup) and
	// /admin/*. Default "" (admin endpoints refuse everyone).
	AdminSecret string
	// OpenSignup lets anyone create an account: for `courier dev` only.
	OpenSignup bool
	// ReadHeaderTimeout bounds slow-loris clients. Default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is the longest a request body may send nothing: a client
	// that declares a body and stalls is cut off, one that keeps sending
	// (an upload on a slow phone) is not, however long it takes. Default
	// 30 s.
	ReadTimeout time.Duration
	// WriteTimeout is the longest a response (a media download) may wait
	// for the client to take more bytes; a client that stops reading
	// releases what the response holds (an S3 connection). Default 30 s.
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. Default 120 s.
	IdleTimeout time.Duration
	// MaxPreauthConnsPerIP caps the connections one address holds before
	// any of their requests authenticated; more are closed at once.
	// Behind a load balancer every connection comes from it: set it to -1
	// (off) there and limit at the balancer. Default 128.
	MaxPreauthConnsPerIP int
}

// Server is the HTTP edge of an API node.
type Server struct {
	cfg         Config
	adminSecret string
	accounts    courier.AccountService
	events      courier.EventPublisher // tells sockets of revoked devices; may be nil
	keys        courier.KeyStore       // set by MountKeys; may be nil
	logger      *slog.Logger
	mux         *http.ServeMux
	ready       []ReadyCheck
	preauth     *preauth // nil when off
	metrics     *httpMetrics
	srv         *http.Server
	ln          net.Listener
}

// ReadyCheck is one dependency /readyz asks.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// NewServer returns a Server with the account routes, health checks and
// metrics registered on reg.
func NewServer(cfg Config, accounts courier.AccountService, logger *slog.Logger, reg *prometheus.Registry) *Server {
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.MaxPreauthConnsPerIP == 0 {
		cfg.MaxPreauthConnsPerIP = 128
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	s := &Server{
		cfg:         cfg,
		adminSecret: cfg.AdminSecret,
		accounts:    accounts,
		logger:      logger,
		mux:         http.NewServeMux(),
		metrics:     newHTTPMetrics(reg),
	}
	if cfg.MaxPreauthConnsPerIP > 0 {
		s.preauth = newPreauth(cfg.MaxPreauthConnsPerIP)
	}
	s.registerAccountRoutes()
	s.registerHealthRoutes(reg)
	s.mux.Handle("/", NotFound)
	return s
}

// NotFound answers every path nothing else serves with the JSON 404 of the
// API; the web client's file server uses it too, so a missing file looks
// like a missing endpoint.
var NotFound http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	Error(w, r, courier.Errorf(courier.ENOTFOUND, "no such endpoint"))
})

// Handle registers h on pattern (net/http ServeMux syntax). Used by
// cmd/courier to mount the tus endpoint, media and the WebSocket gateway.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// SetEventPublisher lets account changes reach open sockets: a revoked
// device's sockets close at once instead of living on with a dead token.
func (s *Server) SetEventPublisher(p courier.EventPublisher) { s.events = p }

// AddReadyCheck adds a dependency to /readyz.
func (s *Server) AddReadyCheck(name string, check func(ctx context.Context) error) {
	s.ready = append(s.ready, ReadyCheck{Name: name, Check: check})
}

// Handler returns the root handler with every middleware applied.
func (s *Server) Handler() http.Handler {
	return s.withRequestContext(s.mux)
}

// Listen opens the listener; Addr() is known after it. Separate from Serve
// so tests can listen on :0 and read the port.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	if s.preauth != nil {
		s.srv.ConnState = s.preauth.connState
		s.srv.ConnContext = s.preauth.connContext
	}
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends. Hijacked connections (WebSockets) are closed by their owner.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// RegisterOnShutdown runs f when Shutdown starts (to close WebSockets).
func (s *Server) RegisterOnShutdown(f func()) { s.srv.RegisterOnShutdown(f) }
