package main

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// maxHeaderBytes is node:http's default limit on a request's head (--max-http-header-size):
// the same request gets the same 431 in every model. http.Server.MaxHeaderBytes is set
// above it, so the head reaches this check instead of net/http's own text/plain 431.
const maxHeaderBytes = 16 * 1024

// route is one endpoint: a function from the parsed query to a reply.
type route func(ctx context.Context, query map[string][]string, tid int) reply

type service struct {
	routes map[string]route
	stats  *recorder
	log    *slog.Logger
	outage outageLog
}

// outageLog writes the driver's detail of an outage (which the 503 body leaves out) at
// most once a second, as the Node models do: under overload every request fails alike.
type outageLog struct {
	mu      sync.Mutex
	lastAt  time.Time
	omitted int
}

func (o *outageLog) log(log *slog.Logger, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Since(o.lastAt) < time.Second {
		o.omitted++
		return
	}
	log.Warn("database unavailable: answered 503", "err", err.Error(), "similarOmitted", o.omitted)
	o.lastAt = time.Now()
	o.omitted = 0
}

func newService(db *store, stats *recorder, log *slog.Logger) *service {
	s := &service{stats: stats, log: log}
	s.routes = map[string]route{
		"/db": s.db(db),
		"/healthz": func(context.Context, map[string][]string, int) reply {
			return jsonReply(200, map[string]string{"status": "ok"})
		},
		"/readyz":  s.readyz(db),
		"/metrics": func(context.Context, map[string][]string, int) reply { return stats.metrics() },
		"/model": func(_ context.Context, _ map[string][]string, tid int) reply {
			return jsonReply(200, stats.evidence(tid))
		},
	}
	return s
}

func (s *service) db(db *store) route {
	return func(ctx context.Context, query map[string][]string, _ int) reply {
		id, bad := parseWorldID(query["id"], func() int { return rand.IntN(worldRows) })
		if bad != nil {
			return *bad
		}
		w, err := db.findWorld(ctx, id)
		switch {
		case err != nil:
			return s.failure(err)
		case w == nil:
			return errorReply(404, "not_found", "no world with id "+strconv.Itoa(id))
		}
		return jsonReply(200, w)
	}
}

func (s *service) readyz(db *store) route {
	return func(ctx context.Context, _ map[string][]string, _ int) reply {
		if err := db.ping(ctx); err != nil {
			return s.failure(err)
		}
		return jsonReply(200, map[string]string{"status": "ready"})
	}
}

// failure: a database that cannot serve is a 503 the client may retry; the body says
// only that (the driver's message names hosts and ports). Anything else is a 500.
func (s *service) failure(err error) reply {
	if errors.Is(err, errUnavailable) {
		s.outage.log(s.log, err)
		return errorReply(503, "database_unavailable", "the database is unavailable; retry shortly").with("Retry-After", "1")
	}
	s.log.Error("request failed", "err", err.Error())
	return errorReply(500, "internal_error", "the request failed; see the service log")
}

// headSize is the size of the request line and headers as the client sent them.
func headSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// ServeHTTP is every request's handler. net/http calls it on the goroutine that owns
// the connection: one goroutine per connection, parked by the runtime while it waits.
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	tid := threadID()
	setIdentity(w.Header(), tid)
	path := r.URL.EscapedPath()
	found, known := s.routes[path]
	label := "unmatched"
	if known {
		label = path
	}
	rec := &statusWriter{ResponseWriter: w, status: 200}
	s.stats.started()
	aborted := false
	defer func() {
		// A handler goroutine that panicked is this model's crashed unit: counted, then
		// net/http's own recovery closes that one connection and the server goes on.
		if p := recover(); p != nil {
			s.stats.unitsCrashed.Add(1)
			s.stats.finished(label, http.StatusInternalServerError, false, time.Since(started))
			panic(p)
		}
		s.stats.finished(label, rec.status, aborted, time.Since(started))
	}()
	s.answer(rec, r, path, found, tid).send(rec, r.Method == http.MethodHead)
	// net/http buffers the response; flushing it here tells whether it reached the client:
	// a client that went away (reset) makes the write fail, one that only half-closed does not.
	aborted = http.NewResponseController(rec).Flush() != nil
}

func (s *service) answer(w http.ResponseWriter, r *http.Request, path string, found route, tid int) reply {
	if headSize(r) > maxHeaderBytes {
		w.Header().Set("Connection", "close")
		return errorReply(431, "headers_too_large", "the request could not be read (its headers exceed "+strconv.Itoa(maxHeaderBytes)+" bytes)")
	}
	if found == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return unmatched(s.routes, r.Method, path)
	}
	return found(r.Context(), parseQuery(r.URL.RawQuery), tid)
}

// unmatched: 405 for a known path with another method, 404 for an unknown path.
func unmatched(routes map[string]route, method, path string) reply {
	if _, ok := routes[path]; ok {
		return errorReply(405, "method_not_allowed", method+" is not allowed on "+path+"; use GET").with("Allow", "GET, HEAD")
	}
	return errorReply(404, "not_found", "no route "+method+" "+prefix(path, 200))
}

// statusWriter remembers the status for the request metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the connection's own writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
