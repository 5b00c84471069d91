package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/optout-dev/optout/api"
	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
	"github.com/optout-dev/optout/whatsapp"
)

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the service: HTTP API, webhooks, campaigns",
		Long: "Runs the service: the HTTP API, the webhook worker and the campaign scheduler. With no flags it keeps its\n" +
			"data in ./data; with --db and --redis several instances share PostgreSQL and Redis and behave as one.\n" +
			"Stops gracefully on SIGINT or SIGTERM, finishing the requests in flight. Every flag can be set with the\n" +
			"environment variable it names; a flag on the command line wins over it.\n\n" +
			"Also read from the environment only:\n" +
			"  OPTOUT_ADMIN_TOKEN    the admin API token; when unset, one is generated and printed once at start",
		Args: noArgs,
	}
	set := newSettings(cmd)
	addr := set.String("addr", "OPTOUT_ADDR", "127.0.0.1:8080", "`ADDRESS` to listen on")
	st := set.store()
	allowPrivate := set.Bool("webhook-allow-private", "OPTOUT_WEBHOOK_ALLOW_PRIVATE", false, "allow webhook URLs on private, loopback and link-local addresses")
	workers := set.Int("webhook-workers", "OPTOUT_WEBHOOK_WORKERS", 8, "webhook deliveries in flight at once")
	retryFirst := set.Duration("webhook-retry-first", "OPTOUT_WEBHOOK_RETRY_FIRST", 5*time.Second, "wait after a webhook's first failed attempt, doubled after each failure")
	retryMax := set.Duration("webhook-retry-max", "OPTOUT_WEBHOOK_RETRY_MAX", time.Hour, "longest wait between a webhook's attempts (they go on for 25 hours)")
	poll := set.Duration("webhook-poll", "OPTOUT_WEBHOOK_POLL", 5*time.Second, "how often to look for webhook events due again")
	campaignInterval := set.Duration("campaign-interval", "OPTOUT_CAMPAIGN_INTERVAL", time.Minute, "how often to look for due campaign events")
	retainAnswers := set.Duration("retain-answers", "OPTOUT_RETAIN_ANSWERS", service.DefaultRetention.Answers, "how long the answers of processed messages are kept, for a message sent again")
	retainDone := set.Duration("retain-done", "OPTOUT_RETAIN_DONE", service.DefaultRetention.Done, "how long delivered webhook events, their attempts and messages WhatsApp took are kept")
	maxImportSize := set.Int("max-import-size", "OPTOUT_MAX_IMPORT_SIZE", api.DefaultMaxImportSize, "largest export, in `BYTES`, that an import reads (every other request: 1 MiB)")
	graphURL := set.String("graph-url", "OPTOUT_GRAPH_URL", whatsapp.DefaultBaseURL, "`URL` of Meta's Graph API, which WhatsApp messages are sent through at version "+whatsapp.APIVersion)
	set.checks = append(set.checks, func() string { _, err := whatsapp.New(*graphURL); return problem("--graph-url", err) })
	workspaceRate := set.Float("workspace-rate", "OPTOUT_WORKSPACE_RATE", 500, "API requests a second each workspace's token may make of this instance, with bursts of twice that; 0 for no limit")
	workspaceBroadcasts := set.Int("workspace-broadcasts", "OPTOUT_WORKSPACE_BROADCASTS", 2, "broadcasts of one workspace this instance decides at once; 0 for no limit")
	shutdownTimeout := set.Duration("shutdown-timeout", "OPTOUT_SHUTDOWN_TIMEOUT", 30*time.Second, "how long to wait for requests in flight when stopping")
	debugAddr := set.String("debug-addr", "OPTOUT_DEBUG_ADDR", "", "`ADDRESS` to serve Go's profiles on (/debug/pprof/), apart from the API; keep it on loopback")
	logLevel := set.String("log-level", "OPTOUT_LOG_LEVEL", "info", "`LEVEL` of logging: debug, info, warn or error")
	logFormat := set.String("log-format", "OPTOUT_LOG_FORMAT", "auto", "`FORMAT` of logs: json, text, or auto (text on a terminal, json otherwise)")

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := set.resolve(); err != nil {
			return err
		}
		stderr := cmd.ErrOrStderr()
		log, err := newLogger(stderr, *logLevel, *logFormat)
		if err != nil {
			return usagef("%s", err)
		}
		adminToken := os.Getenv("OPTOUT_ADMIN_TOKEN")
		if adminToken == "" {
			adminToken = newToken()
			fmt.Fprintf(stderr, "admin token: %s\n(generated for this run; set OPTOUT_ADMIN_TOKEN to keep one)\n", adminToken)
		}

		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, log, &serveConfig{
			addr: *addr, dsn: st.dsn(), redis: *st.redis, adminToken: adminToken, allowPrivate: *allowPrivate,
			workers: *workers, retryFirst: *retryFirst, retryMax: *retryMax, poll: *poll,
			campaignInterval: *campaignInterval, shutdownTimeout: *shutdownTimeout, graphURL: *graphURL,
			limits: api.Limits{Rate: *workspaceRate, Broadcasts: *workspaceBroadcasts}, maxImportSize: int64(*maxImportSize),
			retention: service.Retention{Answers: *retainAnswers, Done: *retainDone}, debugAddr: *debugAddr,
		})
	}
	return cmd
}

type serveConfig struct {
	addr, dsn, redis, adminToken string
	allowPrivate                 bool
	workers                      int
	retryFirst, retryMax, poll   time.Duration
	campaignInterval             time.Duration
	graphURL                     string
	shutdownTimeout              time.Duration
	limits                       api.Limits
	maxImportSize                int64
	retention                    service.Retention
	debugAddr                    string
}

func serve(ctx context.Context, log *slog.Logger, c *serveConfig) error {
	st, err := store.Open(ctx, c.dsn)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()

	coord, err := cluster.New(c.redis, st, log)
	if err != nil {
		return fmt.Errorf("connecting to Redis: %w", err)
	}
	defer coord.Close()

	registry := &metrics.Registry{}
	deliveries := registry.NewCounter("optout_webhook_deliveries_total", "Webhook delivery attempts, by outcome: delivered, retry (failed, will try again) or failed (given up).", "outcome")
	registry.NewGaugeFunc("optout_webhook_lag_seconds", "Age of the oldest webhook event not delivered yet.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		oldest, err := st.OldestPendingWebhook(ctx)
		if err != nil || oldest.IsZero() {
			return 0
		}
		return time.Since(oldest).Seconds()
	})

	policy := &webhook.Policy{AllowPrivate: c.allowPrivate}
	worker := &webhook.Worker{
		Store:       st,
		Policy:      policy,
		Concurrency: c.workers,
		Backoff:     webhook.Exponential(c.retryFirst, c.retryMax),
		Poll:        c.poll,
		Log:         log,
		OnAttempt: func(a *store.WebhookAttempt, outcome store.WebhookStatus) {
			deliveries.Inc(map[store.WebhookStatus]string{store.WebhookDelivered: "delivered", store.WebhookPending: "retry", store.WebhookFailed: "failed"}[outcome])
		},
	}
	svc := service.New(service.Options{
		Store: st, Cluster: coord, Policy: policy, Nudge: worker.Nudge, Metrics: registry, Log: log, CampaignInterval: c.campaignInterval,
	})

	graph, err := whatsapp.New(c.graphURL)
	if err != nil {
		return err
	}

	server := &http.Server{
		Handler: api.New(api.Options{
			Service: svc, AdminToken: c.adminToken, Metrics: registry, Log: log, Limits: c.limits, MaxImportSize: c.maxImportSize,
			Health: func(ctx context.Context) map[string]string { return health(ctx, st, coord, c.redis != "") },
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	listener, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", listener.Addr().String(), "store", storeKind(c.dsn), "redis", c.redis != "")
	if c.debugAddr != "" {
		debug, err := net.Listen("tcp", c.debugAddr)
		if err != nil {
			return fmt.Errorf("--debug-addr: %w", err)
		}
		// its own server, so that no route of the API ever reaches the profiles
		profiles := &http.Server{Handler: profileHandler(), ReadHeaderTimeout: 10 * time.Second}
		go profiles.Serve(debug)
		defer profiles.Close()
		log.Info("serving profiles", "addr", debug.Addr().String())
	}

	// the background work stops only after the server has drained, so that nothing a request committed waits for a
	// worker that is gone
	background, stopBackground := context.WithCancel(context.Background())
	failed := make(chan error, 1)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{
		func(ctx context.Context) error { coord.Run(ctx); return nil },
		worker.Run,
		func(ctx context.Context) error { svc.RunCampaigns(ctx); return nil },
		func(ctx context.Context) error { svc.RunRetention(ctx, c.retention); return nil },
		func(ctx context.Context) error {
			svc.RunWhatsApp(ctx, service.WhatsAppOptions{Client: graph, Limiter: coord.SendLimiter()})
			return nil
		},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(background); err != nil {
				failed <- err
			}
		}()
	}

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()

	select {
	case err = <-served:
	case err = <-failed:
		server.Close()
	case <-ctx.Done():
		log.Info("stopping: finishing requests in flight")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		err = server.Shutdown(shutdownCtx)
		cancel()
	}
	stopBackground()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// profileHandler serves what net/http/pprof registers on the default mux, without using that mux.
func profileHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func health(ctx context.Context, st store.Store, coord *cluster.Coordinator, redisConfigured bool) map[string]string {
	checks := map[string]string{"store": "ok", "redis": "not configured"}
	if err := st.Ping(ctx); err != nil {
		checks["store"] = err.Error()
	}
	if redisConfigured {
		checks["redis"] = "ok"
		if !coord.Available() {
			checks["redis"] = "unavailable: serving from the store"
		}
	}
	return checks
}

func storeKind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "postgres"
	}
	return "embedded:" + dsn
}

func newToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// newLogger logs as JSON when not on a terminal, where a machine reads the logs, and as text on one.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "auto":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not json, text or auto", format)
}
