package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// net/http answers a request it cannot read (no Host, a malformed request line or
// URL, an oversized head, an unknown transfer coding) itself, before any handler,
// with a text/plain response written straight onto the connection in one Write. The
// contract is a JSON error for every bad input, as node:http's 'clientError' handler
// gives the Node models. There is no hook for it in net/http, so the listener hands
// net/http connections whose Write recognises exactly that response and sends the
// same status as our JSON error instead. Every other write passes through untouched.

// netHTTPErrorHeaders is what net/http's conn.serve writes after the status line of those responses.
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

type jsonErrorConn struct {
	net.Conn
	// headRequest: the last request line read began with HEAD, so an error answer to it has
	// no body (net/http's own reply sends one anyway; a client then reads it as garbage).
	// net/http reads a request's head in one Read unless it is pipelined behind another.
	headRequest bool
}

func (c *jsonErrorConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.headRequest = bytes.HasPrefix(p[:n], []byte("HEAD "))
	}
	return n, err
}

// CloseWrite keeps net/http's graceful close after its 431 (it looks for this method).
func (c *jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *jsonErrorConn) Write(p []byte) (int, error) {
	if replacement, ok := jsonForNetHTTPError(p, c.headRequest); ok {
		if _, err := c.Conn.Write(replacement); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// jsonForNetHTTPError returns the JSON response for one of net/http's own error
// responses (without its body when it answers a HEAD request), or false when p is
// anything else.
func jsonForNetHTTPError(p []byte, head bool) ([]byte, bool) {
	const start = "HTTP/1.1 "
	if len(p) < len(start)+3 || !bytes.HasPrefix(p, []byte(start)) || (p[len(start)] != '4' && p[len(start)] != '5') {
		return nil, false
	}
	end := bytes.Index(p, []byte(netHTTPErrorHeaders))
	if end < 0 || bytes.IndexByte(p[:end], '\n') >= 0 {
		return nil, false
	}
	status, err := strconv.Atoi(string(p[len(start) : len(start)+3]))
	if err != nil {
		return nil, false
	}
	// The body is "<status> <reason>" or "<status> <reason>: <detail>".
	text := string(p[end+len(netHTTPErrorHeaders):])
	message := "the request could not be read"
	if _, detail, found := strings.Cut(text, ": "); found {
		message += " (" + detail + ")"
	} else if !strings.HasPrefix(text, strconv.Itoa(status)) {
		message += " (" + text + ")"
	}
	kind := map[int]string{400: "bad_request", 431: "headers_too_large", 501: "not_implemented", 505: "http_version_not_supported"}[status]
	if kind == "" {
		kind = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	}
	body := marshal(errorBody{StatusCode: status, Error: kind, Message: message})
	header := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-Model: %s\r\nX-Pid: %s\r\nX-Thread-Id: %d\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), jsonType, len(body), model, pidText, threadID())
	if head {
		return []byte(header), true // Content-Length says what a GET would have had
	}
	return append([]byte(header), body...), true
}
