package api

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/optout-dev/optout/service"
)

func (s *server) putWorkspace(w http.ResponseWriter, r *http.Request) (int, any, error) {
	req := &service.WorkspaceRequest{}
	if err := decode(r, req); err != nil {
		return 0, nil, err
	}
	// the admin token opens every workspace, so as a workspace's token it would let that workspace's users in
	// everywhere
	if req.Token != nil && subtle.ConstantTimeCompare([]byte(*req.Token), []byte(s.adminToken)) == 1 {
		return 0, nil, &service.Error{Kind: service.Unprocessable, Field: "token", Err: errors.New("is the admin token: give the workspace a token of its own")}
	}
	ws, created, err := s.svc.PutWorkspace(r.Context(), r.PathValue("ws"), req)
	if err != nil {
		return 0, nil, err
	}
	if created {
		return http.StatusCreated, ws, nil
	}
	return http.StatusOK, ws, nil
}

func (s *server) getWorkspace(w http.ResponseWriter, r *http.Request) (int, any, error) {
	ws, err := s.svc.GetWorkspace(r.Context(), r.PathValue("ws"))
	return http.StatusOK, ws, err
}

func (s *server) importExport(w http.ResponseWriter, r *http.Request) (int, any, error) {
	body, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	result, err := s.svc.Import(r.Context(), r.PathValue("ws"), body)
	return http.StatusOK, result, err
}

func (s *server) postMessage(w http.ResponseWriter, r *http.Request) (int, any, error) {
	req := &service.MessageRequest{}
	if err := decode(r, req); err != nil {
		return 0, nil, err
	}
	result, err := s.svc.HandleMessage(r.Context(), r.PathValue("ws"), req)
	return http.StatusOK, result, err
}

func (s *server) getContact(w http.ResponseWriter, r *http.Request) (int, any, error) {
	contact, err := s.svc.Contact(r.Context(), r.PathValue("ws"), r.PathValue("urn"))
	return http.StatusOK, contact, err
}

func (s *server) postConsent(w http.ResponseWriter, r *http.Request) (int, any, error) {
	req := &service.ConsentRequest{}
	if err := decode(r, req); err != nil {
		return 0, nil, err
	}
	contact, err := s.svc.SetConsent(r.Context(), r.PathValue("ws"), r.PathValue("urn"), req)
	return http.StatusOK, contact, err
}

func (s *server) getOptOuts(w http.ResponseWriter, r *http.Request) (int, any, error) {
	// a CSV is the whole list, for moving it elsewhere; JSON is paged
	if strings.Contains(r.Header.Get("Accept"), "text/csv") {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="optouts.csv"`)
		return 0, nil, s.svc.WriteOptOutsCSV(r.Context(), r.PathValue("ws"), w, nil)
	}
	after, limit, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	results, next, err := s.svc.OptOuts(r.Context(), r.PathValue("ws"), after, limit)
	return http.StatusOK, &listing{Results: results, Next: next}, err
}

func (s *server) getEvents(w http.ResponseWriter, r *http.Request) (int, any, error) {
	after, limit, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	results, next, err := s.svc.ConsentEvents(r.Context(), r.PathValue("ws"), r.URL.Query().Get("contact"), after, limit)
	return http.StatusOK, &listing{Results: results, Next: next}, err
}

func (s *server) postBroadcast(w http.ResponseWriter, r *http.Request) (int, any, error) {
	req := &service.BroadcastRequest{}
	if err := decode(r, req); err != nil {
		return 0, nil, err
	}
	done, ok := s.limiter.startBroadcast(r.PathValue("ws"))
	if !ok {
		tooMany(w, time.Second, "too many broadcasts at once: a workspace may have %d being decided; try again when one is done", s.limiter.limits.Broadcasts)
		return 0, nil, nil
	}
	defer done()
	result, err := s.svc.Broadcast(r.Context(), r.PathValue("ws"), req)
	return http.StatusOK, result, err
}

func (s *server) getBroadcast(w http.ResponseWriter, r *http.Request) (int, any, error) {
	after, limit, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	result, err := s.svc.GetBroadcast(r.Context(), r.PathValue("ws"), r.PathValue("id"), after, limit)
	return http.StatusOK, result, err
}

func (s *server) getWebhooks(w http.ResponseWriter, r *http.Request) (int, any, error) {
	after, limit, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	results, next, err := s.svc.WebhookEvents(r.Context(), r.PathValue("ws"), r.URL.Query().Get("status"), after, limit)
	return http.StatusOK, &listing{Results: results, Next: next}, err
}

func (s *server) getWebhook(w http.ResponseWriter, r *http.Request) (int, any, error) {
	result, err := s.svc.WebhookEvent(r.Context(), r.PathValue("ws"), r.PathValue("id"))
	return http.StatusOK, result, err
}

func (s *server) getOutbox(w http.ResponseWriter, r *http.Request) (int, any, error) {
	after, limit, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	results, next, err := s.svc.Outbox(r.Context(), r.PathValue("ws"), after, limit)
	return http.StatusOK, &listing{Results: results, Next: next}, err
}

func (s *server) getGroups(w http.ResponseWriter, r *http.Request) (int, any, error) {
	groups, err := s.svc.Groups(r.Context(), r.PathValue("ws"))
	return http.StatusOK, &listing{Results: groups}, err
}

func (s *server) postGroup(w http.ResponseWriter, r *http.Request) (int, any, error) {
	req := &service.GroupRequest{}
	if err := decode(r, req); err != nil {
		return 0, nil, err
	}
	group, err := s.svc.CreateGroup(r.Context(), r.PathValue("ws"), req)
	return http.StatusCreated, group, err
}

func (s *server) postGroupContacts(w http.ResponseWriter, r *http.Request) (int, any, error) {
	req := &service.MembersRequest{}
	if err := decode(r, req); err != nil {
		return 0, nil, err
	}
	result, err := s.svc.AddToGroup(r.Context(), r.PathValue("ws"), r.PathValue("name"), req)
	return http.StatusOK, result, err
}

func (s *server) deleteGroupContacts(w http.ResponseWriter, r *http.Request) (int, any, error) {
	req := &service.MembersRequest{}
	if err := decode(r, req); err != nil {
		return 0, nil, err
	}
	result, err := s.svc.RemoveFromGroup(r.Context(), r.PathValue("ws"), r.PathValue("name"), req)
	return http.StatusOK, result, err
}

func (s *server) getWorkspaces(w http.ResponseWriter, r *http.Request) (int, any, error) {
	workspaces, err := s.svc.Workspaces(r.Context())
	return http.StatusOK, &listing{Results: workspaces}, err
}

func (s *server) deleteWorkspace(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := s.svc.DeleteWorkspace(r.Context(), r.PathValue("ws")); err != nil {
		return 0, nil, err
	}
	w.WriteHeader(http.StatusNoContent)
	return 0, nil, nil
}
