package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The same environment variables, defaults, ranges and one-line messages as
// services/common/src/config.ts, so every model is configured alike.

// configError is a bad setting; main prints it as one line and exits 1.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// dbConfig mirrors DbConfig in config.ts.
type dbConfig struct {
	host     string
	port     int
	user     string
	password string
	database string
	// poolMax is the size of the one pool every goroutine shares.
	poolMax int
	// connectionTimeout bounds the wait for a connection, fresh or pooled, before a 503.
	connectionTimeout time.Duration
	// connectTimeout bounds opening a new connection (pgconn's ConnectTimeout). Longer than
	// connectionTimeout on purpose: a request that stops waiting leaves the connection to
	// finish opening and join the pool (see withConn).
	connectTimeout   time.Duration
	statementTimeout time.Duration
	// idleTimeout closes idle pool connections; 0 keeps them.
	idleTimeout time.Duration
}

type config struct {
	host     string
	port     int
	logLevel string
	// dbDelay is the time each /db query waits inside Postgres (pg_sleep).
	dbDelay         time.Duration
	db              dbConfig
	shutdownTimeout time.Duration
	// keepAliveTimeout closes idle keep-alive connections (http.Server.IdleTimeout).
	keepAliveTimeout time.Duration
	// headersTimeout is the Slowloris defence (http.Server.ReadHeaderTimeout).
	headersTimeout time.Duration
	// requestTimeout bounds the arrival of a whole request (http.Server.ReadTimeout).
	requestTimeout time.Duration
}

type env func(name string) (string, bool)

type intRule struct {
	def      int
	required bool
	min, max int
}

var integerText = regexp.MustCompile(`^-?\d+$`)

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER: the Node models accept no more.
const maxSafeInteger = 1<<53 - 1

// quote is JSON.stringify for a string: the form config.ts uses in its messages.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func readInt(e env, name string, rule intRule) (int, error) {
	raw, ok := e(name)
	trimmed := strings.TrimSpace(raw)
	if !ok || trimmed == "" {
		if rule.required {
			return 0, &configError{fmt.Sprintf("%s is required: an integer from %d to %d", name, rule.min, rule.max)}
		}
		return rule.def, nil
	}
	value, err := strconv.ParseInt(trimmed, 10, 64)
	if !integerText.MatchString(trimmed) || err != nil || value > maxSafeInteger || value < -maxSafeInteger ||
		value < int64(rule.min) || value > int64(rule.max) {
		return 0, &configError{fmt.Sprintf("%s=%s is invalid: expected an integer from %d to %d", name, quote(raw), rule.min, rule.max)}
	}
	return int(value), nil
}

func readString(e env, name, fallback string, required bool) (string, error) {
	raw, ok := e(name)
	if !ok || raw == "" {
		if required {
			return "", &configError{fmt.Sprintf("%s is required: a non-empty string", name)}
		}
		return fallback, nil
	}
	return raw, nil
}

func readChoice(e env, name string, allowed []string, fallback string) (string, error) {
	raw, ok := e(name)
	if !ok || raw == "" {
		return fallback, nil
	}
	for _, a := range allowed {
		if raw == a {
			return raw, nil
		}
	}
	return "", &configError{fmt.Sprintf("%s=%s is invalid: expected one of %s", name, quote(raw), strings.Join(allowed, ", "))}
}

var logLevels = []string{"fatal", "error", "warn", "info", "debug", "trace", "silent"}

// This model's own defaults, like the event loop's: one pool of 100, keep-alive 75 s.
const (
	defaultPoolMax          = 100
	defaultKeepAliveTimeout = 75_000
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// loadConfig reads and checks every setting in the order config.ts does, so the
// first bad one is the one reported.
func loadConfig(e env) (config, error) {
	var c config
	var err error
	// Each read stops at the first error; later reads are skipped.
	integer := func(name string, rule intRule) int {
		if err != nil {
			return 0
		}
		var v int
		v, err = readInt(e, name, rule)
		return v
	}
	text := func(name, fallback string, required bool) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = readString(e, name, fallback, required)
		return v
	}

	statementTimeout := integer("DB_STATEMENT_TIMEOUT_MS", intRule{def: 5_000, min: 1, max: 600_000})
	dbDelay := integer("DB_DELAY_MS", intRule{def: 50, min: 0, max: 60_000})
	if err == nil && dbDelay >= statementTimeout {
		return c, &configError{fmt.Sprintf("DB_DELAY_MS=%d is invalid: it must be below DB_STATEMENT_TIMEOUT_MS (%d)", dbDelay, statementTimeout)}
	}
	headersTimeout := integer("HEADERS_TIMEOUT_MS", intRule{def: 10_000, min: 1, max: 600_000})
	requestTimeout := integer("REQUEST_TIMEOUT_MS", intRule{def: 30_000, min: 1, max: 600_000})
	if err == nil && headersTimeout > requestTimeout {
		return c, &configError{fmt.Sprintf("HEADERS_TIMEOUT_MS=%d is invalid: it must not exceed REQUEST_TIMEOUT_MS (%d)", headersTimeout, requestTimeout)}
	}
	c.host = text("HOST", "0.0.0.0", false)
	c.port = integer("PORT", intRule{def: 3000, min: 0, max: 65_535})
	if err == nil {
		c.logLevel, err = readChoice(e, "LOG_LEVEL", logLevels, "info")
	}
	c.db.host = text("DB_HOST", "localhost", false)
	c.db.port = integer("DB_PORT", intRule{def: 5432, min: 1, max: 65_535})
	c.db.user = text("DB_USER", "benchmarkdbuser", false)
	c.db.password = text("DB_PASSWORD", "", true)
	c.db.database = text("DB_NAME", "hello_world", false)
	c.db.poolMax = integer("DB_POOL_MAX", intRule{def: defaultPoolMax, min: 1, max: 10_000})
	c.db.connectionTimeout = ms(integer("DB_CONNECTION_TIMEOUT_MS", intRule{def: 750, min: 1, max: 600_000}))
	c.db.connectTimeout = ms(integer("DB_CONNECT_TIMEOUT_MS", intRule{def: 5_000, min: 1, max: 600_000}))
	c.db.idleTimeout = ms(integer("DB_IDLE_TIMEOUT_MS", intRule{def: 30_000, min: 0, max: 3_600_000}))
	c.shutdownTimeout = ms(integer("SHUTDOWN_TIMEOUT_MS", intRule{def: 10_000, min: 100, max: 600_000}))
	c.keepAliveTimeout = ms(integer("KEEP_ALIVE_TIMEOUT_MS", intRule{def: defaultKeepAliveTimeout, min: 1, max: 3_600_000}))
	if err != nil {
		return config{}, err
	}
	c.db.statementTimeout = ms(statementTimeout)
	c.dbDelay = ms(dbDelay)
	c.headersTimeout = ms(headersTimeout)
	c.requestTimeout = ms(requestTimeout)
	return c, nil
}
