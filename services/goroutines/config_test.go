package main

import (
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) env {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestDefaults(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{"DB_PASSWORD": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.host != "0.0.0.0" || c.port != 3000 || c.logLevel != "info" || c.dbDelay != 50*time.Millisecond {
		t.Errorf("server defaults: %+v", c)
	}
	if c.db.host != "localhost" || c.db.port != 5432 || c.db.user != "benchmarkdbuser" || c.db.database != "hello_world" ||
		c.db.poolMax != 100 || c.db.connectionTimeout != 750*time.Millisecond || c.db.connectTimeout != 5*time.Second || c.db.statementTimeout != 5*time.Second ||
		c.db.idleTimeout != 30*time.Second {
		t.Errorf("database defaults: %+v", c.db)
	}
	if c.keepAliveTimeout != 75*time.Second || c.headersTimeout != 10*time.Second || c.requestTimeout != 30*time.Second || c.shutdownTimeout != 10*time.Second {
		t.Errorf("timeouts: %+v", c)
	}
}

// The messages are config.ts's, word for word: the shared suite matches them for every model.
func TestOneLineErrors(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "DB_PASSWORD is required: a non-empty string"},
		{map[string]string{"DB_PASSWORD": "x", "DB_POOL_MAX": "lots"}, `DB_POOL_MAX="lots" is invalid: expected an integer from 1 to 10000`},
		{map[string]string{"DB_PASSWORD": "x", "DB_POOL_MAX": "1.5"}, `DB_POOL_MAX="1.5" is invalid: expected an integer from 1 to 10000`},
		{map[string]string{"DB_PASSWORD": "x", "DB_POOL_MAX": "+5"}, `DB_POOL_MAX="+5" is invalid: expected an integer from 1 to 10000`},
		{map[string]string{"DB_PASSWORD": "x", "DB_POOL_MAX": "0"}, `DB_POOL_MAX="0" is invalid: expected an integer from 1 to 10000`},
		{map[string]string{"DB_PASSWORD": "x", "PORT": "99999999999999999999"}, `PORT="99999999999999999999" is invalid: expected an integer from 0 to 65535`},
		{map[string]string{"DB_PASSWORD": "x", "LOG_LEVEL": "loud"}, `LOG_LEVEL="loud" is invalid: expected one of fatal, error, warn, info, debug, trace, silent`},
		{map[string]string{"DB_PASSWORD": "x", "DB_DELAY_MS": "5000"}, "DB_DELAY_MS=5000 is invalid: it must be below DB_STATEMENT_TIMEOUT_MS (5000)"},
		{map[string]string{"DB_PASSWORD": "x", "HEADERS_TIMEOUT_MS": "40000"}, "HEADERS_TIMEOUT_MS=40000 is invalid: it must not exceed REQUEST_TIMEOUT_MS (30000)"},
		{map[string]string{"DB_PASSWORD": "x", "SHUTDOWN_TIMEOUT_MS": "<99>"}, `SHUTDOWN_TIMEOUT_MS="<99>" is invalid: expected an integer from 100 to 600000`},
	}
	for _, c := range cases {
		_, err := loadConfig(envOf(c.env))
		if err == nil || err.Error() != c.want || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want %q", c.env, err, c.want)
		}
	}
}

func TestSpacesAndZeroIdle(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{"DB_PASSWORD": "x", "DB_POOL_MAX": " 42 ", "DB_IDLE_TIMEOUT_MS": "0", "PORT": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if c.db.poolMax != 42 || c.db.idleTimeout != 0 || c.port != 3000 {
		t.Errorf("got pool %d, idle %v, port %d", c.db.poolMax, c.db.idleTimeout, c.port)
	}
}
