package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/apns"
	"github.com/courier-chat/courier/fcm"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/worker"
)

// Delivery acknowledgements from Notification Service Extensions: a phone
// acks each push it shows (a couple a second in a burst at most); an
// address may front many phones (carrier NAT), so it gets more, but a
// bound on unauthenticated token lookups all the same.
const (
	pushAckRate      = 2
	pushAckBurst     = 10
	pushAckAddrRate  = 50
	pushAckAddrBurst = 200
)

// pushConfig is how pushes reach phones: APNs and FCM credentials, and
// the log or webhook provider for devices registered with neither.
type pushConfig struct {
	Provider   string // log or webhook: the fallback
	WebhookURL string

	APNsKeyFile    string
	APNsKeyID      string
	APNsTeamID     string
	APNsURL        string // production host; tests point it at a fake
	APNsSandboxURL string

	FCMCredentials string // service-account JSON file
	FCMURL         string // FCM's base URL; tests point it at a fake

	CAFile string // extra roots for both (a TLS-inspecting proxy, a test fake)
}

func (c *pushConfig) bind(b *binder) {
	b.str(&c.Provider, "push-provider", "log", "push provider for devices without an APNs or FCM registration: log or webhook")
	b.str(&c.WebhookURL, "push-webhook-url", "", "URL the webhook push provider POSTs {device_id, conversation_id, seq} to")
	b.str(&c.APNsKeyFile, "apns-key-file", "", "APNs auth key (.p8) for token authentication; empty for no APNs")
	b.str(&c.APNsKeyID, "apns-key-id", "", "the APNs auth key's 10-character key ID")
	b.str(&c.APNsTeamID, "apns-team-id", "", "the Apple developer team ID (10 characters)")
	b.str(&c.APNsURL, "apns-url", apns.ProductionURL, "APNs production host")
	b.str(&c.APNsSandboxURL, "apns-sandbox-url", apns.SandboxURL, "APNs sandbox host (development builds)")
	b.str(&c.FCMCredentials, "fcm-credentials-file", "", "Firebase service-account JSON for FCM HTTP v1; empty for no FCM")
	b.str(&c.FCMURL, "fcm-url", "", "FCM HTTP v1 base URL (default Google's)")
	b.str(&c.CAFile, "push-ca-file", "", "PEM certificates APNs and FCM connections trust instead of the system roots (a TLS-inspecting proxy); empty for the system roots")
}

// roots reads CAFile, or returns nil for the system roots.
func (c *pushConfig) roots() (*x509.CertPool, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("push-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("push-ca-file %s: no PEM certificates", c.CAFile)
	}
	return pool, nil
}

func (c *pushConfig) validate() []error {
	var errs []error
	if c.Provider != "log" && c.Provider != "webhook" {
		errs = append(errs, fmt.Errorf("push-provider %q: want log or webhook", c.Provider))
	} else if c.Provider == "webhook" && c.WebhookURL == "" {
		errs = append(errs, errors.New("push-provider webhook needs push-webhook-url"))
	}
	if c.APNsKeyFile != "" && (c.APNsKeyID == "" || c.APNsTeamID == "") {
		errs = append(errs, errors.New("apns-key-file needs apns-key-id and apns-team-id"))
	}
	return errs
}

// pushSenders opens the configured providers, keyed by service.
func (c *pushConfig) senders() (map[string]courier.PushSender, func(), error) {
	roots, err := c.roots()
	if err != nil {
		return nil, nil, err
	}
	senders := map[string]courier.PushSender{}
	closers := []func(){}
	closeAll := func() {
		for _, f := range closers {
			f()
		}
	}
	if c.APNsKeyFile != "" {
		client, err := apns.New(apns.Config{KeyFile: c.APNsKeyFile, KeyID: c.APNsKeyID, TeamID: c.APNsTeamID,
			ProductionURL: c.APNsURL, SandboxURL: c.APNsSandboxURL, RootCAs: roots})
		if err != nil {
			return nil, nil, err
		}
		senders[courier.PushAPNs] = client
		closers = append(closers, client.Close)
	}
	if c.FCMCredentials != "" {
		client, err := fcm.New(fcm.Config{CredentialsFile: c.FCMCredentials, URL: c.FCMURL, RootCAs: roots})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		senders[courier.PushFCM] = client
		closers = append(closers, client.Close)
	}
	return senders, closeAll, nil
}

// fallback is the provider of devices with no registration.
func (c *pushConfig) fallback(m *Main) worker.Provider {
	if c.Provider == "webhook" {
		return worker.WebhookProvider{URL: c.WebhookURL}
	}
	return worker.LogProvider{Logger: m.Logger.With("component", "push")}
}

// pushHandler is the worker's push job: APNs and FCM for registered
// devices, the fallback provider for the rest.
func (m *Main) pushHandler() (*worker.PushHandler, error) {
	c := &m.Config.Push
	senders, closeAll, err := c.senders()
	if err != nil {
		return nil, err
	}
	m.onClose(func(context.Context) error { closeAll(); return nil })
	return worker.NewPushHandler(worker.PushConfig{
		Store: postgres.NewPushStore(m.DB), Senders: senders,
		Fallback: c.fallback(m), FallbackName: c.Provider,
		Metrics: worker.NewPushMetrics(m.Registry), Logger: m.Logger.With("component", "push"),
	}), nil
}

// runPush is `courier push test DEVICE`: a test push through the
// configured provider, to check credentials and a phone's registration.
func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: courier push test [flags] DEVICE_ID"
	if len(args) == 0 || args[0] != "test" {
		return errors.New(usage)
	}
	c, rest, err := parseConfig("push", args[1:], stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 || !courier.ValidID(rest[0]) {
		return errors.New(usage)
	}
	db, err := postgres.Open(ctx, postgres.Config{URL: c.DatabaseURL, MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	store := postgres.NewPushStore(db)
	reg, err := store.PushRegistration(ctx, rest[0])
	if err != nil {
		return fmt.Errorf("device %s: %s", rest[0], courier.ErrorMessage(err))
	}
	senders, closeAll, err := c.Push.senders()
	if err != nil {
		return err
	}
	defer closeAll()
	sender := senders[reg.Service]
	if sender == nil {
		return fmt.Errorf("device %s is registered with %s, which is not configured here", reg.DeviceID, reg.Service)
	}
	n, err := worker.TestNotification(reg, time.Now())
	if err != nil {
		return err
	}
	h := worker.NewPushHandler(worker.PushConfig{Store: store, Senders: senders})
	if err := h.Send(ctx, sender, n); err != nil {
		return fmt.Errorf("test push to %s via %s: %w", reg.DeviceID, reg.Service, err)
	}
	fmt.Fprintf(stdout, "test push accepted by %s for device %s (%s)\n", reg.Service, reg.DeviceID, sealedNote(n))
	return nil
}

func sealedNote(n *courier.Notification) string {
	if len(n.Sealed) == 0 {
		return "no push key registered: plain alert"
	}
	return "preview sealed to the device's " + n.Registration.KEM + " key"
}
