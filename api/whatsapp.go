package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/whatsapp"
)

// MaxNotificationSize is the largest webhook notification the API reads from Meta, which batches many events in one.
const MaxNotificationSize = 4 << 20

// whatsappHandshake answers Meta's check of the workspace's callback URL. Meta authenticates with the verify token,
// not a bearer token.
func (s *server) whatsappHandshake(w http.ResponseWriter, r *http.Request) {
	challenge, err := s.svc.WhatsAppHandshake(r.Context(), r.PathValue("ws"), r.URL.Query())
	switch {
	case errors.Is(err, service.ErrHandshake):
		writeError(w, http.StatusForbidden, err.Error())
	case err != nil:
		s.writeServiceError(w, r, err)
	default:
		// the challenge is the caller's own text: it goes back as plain text that no browser reads as anything else
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, challenge)
	}
}

// whatsappNotification keeps a webhook notification from Meta, which it authenticates by its X-Hub-Signature-256, not
// a bearer token. It answers as soon as the notification is kept: Meta retries one that isn't answered quickly.
func (s *server) whatsappNotification(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > MaxNotificationSize {
		writeError(w, http.StatusRequestEntityTooLarge, "the notification is larger than the API reads")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxNotificationSize))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "the notification is larger than the API reads")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the notification: "+err.Error())
		return
	}

	kept, err := s.svc.ReceiveWhatsApp(r.Context(), r.PathValue("ws"), body, r.Header.Get(whatsapp.SignatureHeader))
	switch {
	case errors.Is(err, service.ErrSignature):
		writeError(w, http.StatusUnauthorized, err.Error())
	case err != nil:
		s.writeServiceError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, map[string]int{"kept": kept})
	}
}

func (s *server) getTemplateChanges(w http.ResponseWriter, r *http.Request) (int, any, error) {
	after, limit, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	results, next, err := s.svc.TemplateChanges(r.Context(), r.PathValue("ws"), after, limit)
	return http.StatusOK, &listing{Results: results, Next: next}, err
}
