// Package api is the service's HTTP API: JSON in and out, errors as {"error": "..."} naming the field at fault,
// bearer tokens (the admin token works everywhere, a workspace's token on that workspace only), and request bodies
// limited to 1 MiB.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/strictjson"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/service"
)

// MaxBodySize is the largest request body the API reads, but for imports.
const MaxBodySize = 1 << 20

// DefaultMaxImportSize is the largest export an import reads unless configured otherwise: real workspaces' exports
// pass 1 MiB (one of 592 flows is 1.6 MB).
const DefaultMaxImportSize = 32 << 20

// MaxPageSize is the largest page a listing returns.
const MaxPageSize = 1000

// Options are what the API is built from.
type Options struct {
	Service    *service.Service
	AdminToken string
	Metrics    *metrics.Registry
	Health     func(context.Context) map[string]string // the state of each dependency; "ok" or why not
	Limits     Limits
	// MaxImportSize is the largest export an import reads, DefaultMaxImportSize when 0.
	MaxImportSize int64
	Log           *slog.Logger
}

type server struct {
	svc        *service.Service
	adminToken string
	health     func(context.Context) map[string]string
	limiter    *limiter
	log        *slog.Logger
}

// New returns the API's handler.
func New(o Options) http.Handler {
	s := &server{svc: o.Service, adminToken: o.AdminToken, health: o.Health, limiter: newLimiter(o.Limits), log: o.Log}
	mux := http.NewServeMux()

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", o.Metrics.Handler())

	admin := func(h handler) http.Handler { return s.handle(h, true, MaxBodySize) }
	member := func(h handler) http.Handler { return s.handle(h, false, MaxBodySize) }
	importSize := o.MaxImportSize
	if importSize <= 0 {
		importSize = DefaultMaxImportSize
	}

	mux.Handle("GET /v1/workspaces", admin(s.getWorkspaces))
	mux.Handle("PUT /v1/workspaces/{ws}", admin(s.putWorkspace))
	mux.Handle("DELETE /v1/workspaces/{ws}", admin(s.deleteWorkspace))
	mux.Handle("GET /v1/workspaces/{ws}", admin(s.getWorkspace))
	mux.Handle("POST /v1/workspaces/{ws}/import", s.handle(s.importExport, false, importSize))
	mux.Handle("POST /v1/workspaces/{ws}/messages", member(s.postMessage))
	mux.Handle("GET /v1/workspaces/{ws}/contacts/{urn}", member(s.getContact))
	mux.Handle("POST /v1/workspaces/{ws}/contacts/{urn}/consent", member(s.postConsent))
	mux.Handle("GET /v1/workspaces/{ws}/optouts", member(s.getOptOuts))
	mux.Handle("GET /v1/workspaces/{ws}/events", member(s.getEvents))
	mux.Handle("POST /v1/workspaces/{ws}/broadcasts", member(s.postBroadcast))
	mux.Handle("GET /v1/workspaces/{ws}/broadcasts/{id}", member(s.getBroadcast))
	mux.Handle("GET /v1/workspaces/{ws}/webhooks", member(s.getWebhooks))
	mux.Handle("GET /v1/workspaces/{ws}/webhooks/{id}", member(s.getWebhook))
	mux.Handle("GET /v1/workspaces/{ws}/outbox", member(s.getOutbox))
	mux.Handle("GET /v1/workspaces/{ws}/groups", member(s.getGroups))
	mux.Handle("POST /v1/workspaces/{ws}/groups", member(s.postGroup))
	mux.Handle("POST /v1/workspaces/{ws}/groups/{name}/contacts", member(s.postGroupContacts))
	mux.Handle("DELETE /v1/workspaces/{ws}/groups/{name}/contacts", member(s.deleteGroupContacts))
	mux.HandleFunc("GET /v1/workspaces/{ws}/whatsapp", s.whatsappHandshake)
	mux.HandleFunc("POST /v1/workspaces/{ws}/whatsapp", s.whatsappNotification)
	mux.Handle("GET /v1/workspaces/{ws}/templates/changes", member(s.getTemplateChanges))

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return s.logged(mux)
}

// handler handles a request that passed authentication. It returns the status and the value to write as JSON, or
// an error for handle to turn into one; a handler that writes the response itself returns a zero status.
type handler func(w http.ResponseWriter, r *http.Request) (int, any, error)

// handle authenticates a request, holds a workspace's token to its limits, runs the handler and writes what it
// returns.
func (s *server) handle(h handler, adminOnly bool, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, admin, status, msg := s.authenticate(r, adminOnly)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="optout"`)
			}
			writeError(w, status, msg)
			return
		}
		if !admin {
			if ok, wait := s.limiter.allow(r.PathValue("ws")); !ok {
				tooMany(w, wait, "too many requests: this workspace's token may make %g a second", s.limiter.limits.Rate)
				return
			}
		}
		if r.ContentLength > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, tooLarge{maxBody}.Error())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)

		status, value, err := h(w, r)
		if err != nil {
			s.writeServiceError(w, r, err)
			return
		}
		if status == 0 {
			return
		}
		writeJSON(w, status, value)
	})
}

// authenticate says whether the request has the admin token, or returns the status and message to refuse it with,
// or 0 to let it through, with the request the handler is to get.
func (s *server) authenticate(r *http.Request, adminOnly bool) (*http.Request, bool, int, string) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return r, false, http.StatusUnauthorized, "authentication required: send Authorization: Bearer TOKEN"
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.adminToken)) == 1 {
		return r, true, 0, ""
	}

	ws := r.PathValue("ws")
	if !adminOnly {
		ctx, member, err := s.svc.Authorize(r.Context(), ws, token)
		if err != nil {
			return r, false, http.StatusServiceUnavailable, err.Error()
		}
		if member {
			return r.WithContext(ctx), false, 0, ""
		}
	}

	// a token that is nobody's is no authentication at all; one that is another workspace's is authentication
	// without the right
	other, err := s.svc.TokenWorkspace(r.Context(), token)
	switch {
	case err != nil:
		return r, false, http.StatusServiceUnavailable, err.Error()
	case other == "":
		return r, false, http.StatusUnauthorized, "the token is not valid"
	case adminOnly:
		return r, false, http.StatusForbidden, "only the admin token may do this"
	default:
		return r, false, http.StatusForbidden, fmt.Sprintf("the token is not valid for workspace %s", quote.Q(ws))
	}
}

// readBody reads the request body, which handle limited.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return nil, tooLarge{maxBytes.Limit}
	}
	return body, err
}

// tooLarge is a request body over its limit: 413.
type tooLarge struct{ limit int64 }

func (e tooLarge) Error() string {
	return fmt.Sprintf("the request body is larger than %d bytes", e.limit)
}

// decode reads a request's JSON body into req strictly: unknown fields, a second value, and a body over its limit
// are refused. The service checks what the fields say.
func decode(r *http.Request, req any) error {
	err := strictjson.Decode(r.Body, req)
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytes):
		return tooLarge{maxBytes.Limit}
	case err != nil:
		return &service.Error{Kind: service.Invalid, Err: err}
	}
	return nil
}

// statuses of the service's kinds of error
var statuses = map[service.Kind]int{
	service.Invalid:       http.StatusBadRequest,
	service.Unprocessable: http.StatusUnprocessableEntity,
	service.NotFound:      http.StatusNotFound,
	service.Conflict:      http.StatusConflict,
	service.Unavailable:   http.StatusServiceUnavailable,
}

func (s *server) writeServiceError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.As(err, new(tooLarge)) {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	kind := service.KindOf(err)
	status, known := statuses[kind]
	switch {
	case !known:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	case kind == service.Unavailable:
		s.log.Warn("request failed: a dependency is unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, status, err.Error())
	default:
		writeError(w, status, err.Error())
	}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := s.health(ctx)

	status := http.StatusOK
	if checks["store"] != "ok" {
		status = http.StatusServiceUnavailable // without its store the service can't answer anything
	}
	writeJSON(w, status, checks)
}

// page reads the after and limit parameters of a listing.
func page(r *http.Request) (int64, int, error) {
	q := r.URL.Query()
	var after int64
	if a := q.Get("after"); a != "" {
		var err error
		if after, err = strconv.ParseInt(a, 10, 64); err != nil || after < 0 {
			return 0, 0, &service.Error{Kind: service.Invalid, Field: "after", Err: fmt.Errorf("%s is not a cursor from a previous page", quote.Q(a))}
		}
	}
	limit := service.PageSize
	if l := q.Get("limit"); l != "" {
		var err error
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > MaxPageSize {
			return 0, 0, &service.Error{Kind: service.Invalid, Field: "limit", Err: fmt.Errorf("%s is not a number from 1 to %d", quote.Q(l), MaxPageSize)}
		}
	}
	return after, limit, nil
}

// listing is a page of results, with the cursor of the next page when there is one.
type listing struct {
	Results any    `json:"results"`
	Next    string `json:"next,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeRaw(w, status, data)
}

func writeRaw(w http.ResponseWriter, status int, data []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.reason = msg
	}
	data, _ := json.Marshal(map[string]string{"error": msg})
	writeRaw(w, status, data)
}

// logged logs each request once it is answered, and answers a panic with a 500 rather than a dropped connection.
func (s *server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic handling request", "method", r.Method, "path", r.URL.Path, "panic", p)
				writeError(rec, http.StatusInternalServerError, "internal error")
			}
			attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "elapsed_ms", time.Since(start).Milliseconds()}
			if rec.status >= 400 && rec.status < 500 {
				attrs = append(attrs, "reason", rec.reason) // what the client was told, for whoever reads the log
			}
			s.log.Info("request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	reason string // the error the response carries
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
