package main

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseQuery reads a query string the way node:querystring.parse does, so /db?id=...
// means the same here as in the Node models: pairs split on "&" only, "+" is a space,
// and a malformed %-escape is kept as it is (never an error).
func parseQuery(raw string) map[string][]string {
	values := map[string][]string{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		k := unescape(key)
		values[k] = append(values[k], unescape(value))
	}
	return values
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '+' {
			out = append(out, ' ')
			continue
		}
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, c)
	}
	if !utf8.Valid(out) {
		// Node decodes the bytes as UTF-8, replacing what is not.
		return strings.ToValidUTF8(string(out), "\uFFFD")
	}
	return string(out)
}

// prefix is at most n characters of s (String.prototype.slice(0, n), by code point).
func prefix(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

const worldRows = 10_000

// parseWorldID is parseWorldId in routes.ts: a random row when absent, 400 when not
// one integer, 404 when out of range.
func parseWorldID(values []string, random func() int) (int, *reply) {
	if len(values) == 0 {
		return 1 + random(), nil
	}
	if len(values) > 1 {
		r := errorReply(400, "bad_request", "id must be given once")
		return 0, &r
	}
	raw := values[0]
	if !isSignedInteger(raw) {
		r := errorReply(400, "bad_request", "id must be an integer, got "+quote(prefix(raw, 40)))
		return 0, &r
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 || id > worldRows {
		r := errorReply(404, "not_found", "no world with id "+prefix(raw, 40)+": ids are 1 to "+strconv.Itoa(worldRows))
		return 0, &r
	}
	return int(id), nil
}

// isSignedInteger is /^[+-]?\d+$/.
func isSignedInteger(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
