package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/ia3/ia3/ia3"
)

// LoadAdapter attaches the PEFT adapter in dir under name between decoding
// steps; requests may name it as their model once it returns. The adapter
// must fit the base model exactly and have no modules_to_save.
func (s *Server) LoadAdapter(r *http.Request, dir, name string) error {
	cfg, err := ia3.LoadConfig(dir)
	if err != nil {
		return fmt.Errorf("serve: load adapter %s: %w", name, err)
	}
	if err := s.checkServable(name, cfg); err != nil {
		return fmt.Errorf("serve: load adapter: %w", err)
	}
	if s.hasModel(name) {
		return fmt.Errorf("serve: load adapter: %w: %s", errExists, name)
	}
	return s.runControl(r.Context(), func() error {
		s.mu.Lock()
		peft := s.peft
		s.mu.Unlock()
		var err error
		if peft == nil {
			peft, err = ia3.FromPretrained(s.base, dir, name, false)
		} else {
			err = peft.LoadAdapter(dir, name)
		}
		if err != nil {
			return fmt.Errorf("serve: load adapter %s: %w", name, err)
		}
		s.mu.Lock()
		s.peft = peft
		s.adapters = append(s.adapters, name)
		s.mu.Unlock()
		s.o.Logger.Info("serve: adapter loaded", "name", name, "dir", dir)
		return nil
	})
}

// DeleteAdapter removes an adapter between decoding steps and frees its
// vectors. An adapter that queued or decoding requests use is refused.
func (s *Server) DeleteAdapter(r *http.Request, name string) error {
	if name == s.o.BaseName || !s.hasModel(name) {
		return fmt.Errorf("serve: delete adapter: %w: %s", errNoAdapter, name)
	}
	return s.runControl(r.Context(), func() error {
		users := 0
		for _, row := range s.sched.rows {
			if row.q.model == name {
				users++
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, q := range s.queue {
			if q.model == name {
				users++
			}
		}
		if users > 0 {
			return fmt.Errorf("serve: delete adapter %s: %w by %d sequences", name, errInUse, users)
		}
		if err := s.peft.DeleteAdapter(name); err != nil {
			return fmt.Errorf("serve: delete adapter %s: %w", name, err)
		}
		s.adapters = slices.DeleteFunc(s.adapters, func(a string) bool { return a == name })
		s.o.Logger.Info("serve: adapter deleted", "name", name)
		return nil
	})
}

var (
	errExists    = errors.New("an adapter with this name is loaded")
	errNoAdapter = errors.New("no such adapter")
	errInUse     = errors.New("the adapter is in use")
)

// adapterRequest is the body of POST /v1/adapters.
type adapterRequest struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

func (s *Server) handleLoadAdapter(w http.ResponseWriter, r *http.Request) {
	if s.o.NoAdapterAPI {
		writeError(w, errNoAdapterAPI())
		return
	}
	var req adapterRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
	if err := dec.Decode(&req); err != nil {
		writeError(w, badRequest("", "invalid_json", "malformed JSON body: %v", err))
		return
	}
	if req.Path == "" {
		writeError(w, badRequest("path", "", "path (the adapter directory on the server) is required"))
		return
	}
	if req.Name == "" {
		req.Name = filepath.Base(filepath.Clean(req.Path))
	}
	if _, err := os.Stat(filepath.Join(req.Path, ia3.ConfigFile)); err != nil {
		writeError(w, badRequest("path", "", "%s: %v", req.Path, err))
		return
	}
	if err := s.LoadAdapter(r, req.Path, req.Name); err != nil {
		writeError(w, adapterError(err))
		return
	}
	writeJSON(w, http.StatusCreated, s.modelObject(req.Name))
}

func (s *Server) handleDeleteAdapter(w http.ResponseWriter, r *http.Request) {
	if s.o.NoAdapterAPI {
		writeError(w, errNoAdapterAPI())
		return
	}
	name := r.PathValue("name")
	if err := s.DeleteAdapter(r, name); err != nil {
		writeError(w, adapterError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": name, "object": "model", "deleted": true})
}

// errNoAdapterAPI answers adapter changes on a server started with
// NoAdapterAPI.
func errNoAdapterAPI() *apiError {
	return newAPIError(http.StatusForbidden, "invalid_request_error", "", "adapter_api_disabled",
		"this server's adapters are fixed: it was started without the adapter API")
}

// adapterError maps an adapter operation's error to its HTTP answer.
func adapterError(err error) *apiError {
	switch {
	case errors.Is(err, errNoAdapter):
		return newAPIError(http.StatusNotFound, "invalid_request_error", "name", "model_not_found", "%v", err)
	case errors.Is(err, errExists), errors.Is(err, errInUse):
		return newAPIError(http.StatusConflict, "invalid_request_error", "name", "conflict", "%v", err)
	case errors.Is(err, errShuttingDown):
		return newAPIError(http.StatusServiceUnavailable, "server_error", "", "shutting_down", "%v", err)
	}
	return badRequest("", "", "%v", err)
}
