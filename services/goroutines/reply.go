package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"syscall"
)

const jsonType = "application/json; charset=utf-8"

// The identity every response carries (services/common/src/identity.ts).
var (
	pidText = strconv.Itoa(os.Getpid())
)

// threadID is the Linux id of the OS thread running the calling goroutine at this
// moment. A goroutine has no thread of its own: the scheduler may move it to another
// thread at its next park or preemption. So x-thread-id says which of the process's
// few OS threads carried the request when it reached the handler, nothing more.
func threadID() int { return syscall.Gettid() }

func setIdentity(h http.Header, tid int) {
	h.Set("X-Model", model)
	h.Set("X-Pid", pidText)
	h.Set("X-Thread-Id", strconv.Itoa(tid))
}

// marshal is JSON.stringify: no HTML escaping, no trailing newline.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"statusCode":500,"error":"internal_error","message":"the reply could not be encoded"}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// reply is what a route answers (services/common/src/reply.ts).
type reply struct {
	status      int
	body        []byte
	contentType string
	headers     map[string]string
}

func jsonReply(status int, v any) reply {
	return reply{status: status, body: marshal(v), contentType: jsonType}
}

// errorBody is the one JSON shape of every error, from any layer.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
}

func errorReply(status int, kind, message string) reply {
	return jsonReply(status, errorBody{StatusCode: status, Error: kind, Message: message})
}

func (r reply) with(name, value string) reply {
	h := make(map[string]string, len(r.headers)+1)
	for k, v := range r.headers {
		h[k] = v
	}
	h[name] = value
	r.headers = h
	return r
}

func (r reply) send(w http.ResponseWriter, head bool) {
	h := w.Header()
	for k, v := range r.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", r.contentType)
	h.Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	if !head {
		_, _ = w.Write(r.body)
	}
}
