package main

import (
	"reflect"
	"strings"
	"testing"
)

// The query string means what node:querystring.parse makes of it in the Node models.
func TestParseQueryLikeNode(t *testing.T) {
	cases := map[string]map[string][]string{
		"id=1&id=2":   {"id": {"1", "2"}},
		"id=1;x=2":    {"id": {"1;x=2"}},
		"id=%zz&&x":   {"id": {"%zz"}, "x": {""}},
		"id=a+b%21":   {"id": {"a b!"}},
		"id=%00":      {"id": {"\x00"}},
		"=5&id%5B%5D": {"": {"5"}, "id[]": {""}},
	}
	for raw, want := range cases {
		if got := parseQuery(raw); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", raw, got, want)
		}
	}
}

func TestParseWorldID(t *testing.T) {
	one := func() int { return 0 }
	if id, bad := parseWorldID(nil, one); bad != nil || id != 1 {
		t.Errorf("absent id: %d %v", id, bad)
	}
	for raw, status := range map[string]int{"abc": 400, "1.5": 400, "": 400, "-1": 404, "0": 404, "10001": 404, "99999999999999999999999999": 404} {
		if _, bad := parseWorldID([]string{raw}, one); bad == nil || bad.status != status {
			t.Errorf("%q: got %v, want %d", raw, bad, status)
		}
	}
	if id, bad := parseWorldID([]string{"+42"}, one); bad != nil || id != 42 {
		t.Errorf("+42: %d %v", id, bad)
	}
}

func TestNetHTTPErrorsBecomeJSON(t *testing.T) {
	reply := []byte("HTTP/1.1 400 Bad Request: missing required Host header" + netHTTPErrorHeaders + "400 Bad Request: missing required Host header")
	out, ok := jsonForNetHTTPError(reply, false)
	if !ok {
		t.Fatal("not recognised")
	}
	want := `{"statusCode":400,"error":"bad_request","message":"the request could not be read (missing required Host header)"}`
	if s := string(out); len(s) < len(want) || s[len(s)-len(want):] != want {
		t.Errorf("got %q", s)
	}
	if _, ok := jsonForNetHTTPError([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{}"), false); ok {
		t.Error("a handler's response was rewritten")
	}
	// The answer to a HEAD request has the same head and no body.
	head, ok := jsonForNetHTTPError(reply, true)
	if !ok || !strings.HasSuffix(string(head), "\r\n\r\n") || !strings.HasPrefix(string(out), string(head)) {
		t.Errorf("HEAD: got %q", head)
	}
}

func TestIntegralValues(t *testing.T) {
	got := string(integralValues([]byte("# HELP x y\nx{model=\"g\"} 1.2345678e+07\ny 0.05\n")))
	if got != "# HELP x y\nx{model=\"g\"} 12345678\ny 0.05\n" {
		t.Errorf("got %q", got)
	}
}
