package main

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
)

// worldQuery is the one statement every model runs (services/common/src/db.ts): it
// fetches the row AND spends the delay inside Postgres, so pg_stat_statements counts
// one call per request.
const worldQuery = "SELECT w.id, w.randomnumber FROM world w, pg_sleep($2) WHERE w.id = $1"

type world struct {
	ID           int32 `json:"id"`
	RandomNumber int32 `json:"randomNumber"`
}

// errUnavailable means Postgres or the network cannot serve now: the answer is a fast 503.
var errUnavailable = errors.New("database unavailable")

// store is the one pgxpool every request goroutine shares.
type store struct {
	pool         *pgxpool.Pool
	delaySeconds float64
	cfg          dbConfig
	// waiting counts goroutines inside Acquire now (pgxpool has no such gauge).
	waiting atomic.Int64
}

func newStore(c dbConfig, delay time.Duration, applicationName string) (*store, error) {
	// ParseConfig is the only way to a valid pgxpool.Config; every field that matters is then set explicitly.
	pc, err := pgxpool.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, err
	}
	cc := pc.ConnConfig
	cc.Host, cc.Port, cc.User, cc.Password, cc.Database = c.host, uint16(c.port), c.user, c.password, c.database
	cc.Fallbacks = nil
	cc.ConnectTimeout = c.connectTimeout
	// Startup parameters, as the Node pool sends them: no extra statement per connection.
	cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(c.statementTimeout.Milliseconds(), 10)
	cc.RuntimeParams["application_name"] = applicationName
	pc.MaxConns = int32(c.poolMax)
	pc.MinConns = 0
	pc.MaxConnIdleTime = c.idleTimeout
	if c.idleTimeout == 0 {
		pc.MaxConnIdleTime = math.MaxInt64 // 0 means "never close idle connections", as in pg
	}
	// Idle connections are checked (and closed when idle too long) this often.
	pc.HealthCheckPeriod = min(time.Minute, max(time.Second, pc.MaxConnIdleTime/2))
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, err
	}
	return &store{pool: pool, delaySeconds: delay.Seconds(), cfg: c}, nil
}

// withConn runs fn on a pooled connection. The wait for it is bounded by
// DB_CONNECTION_TIMEOUT_MS; a new connection still opening when the wait ends goes on
// opening (puddle builds it apart from the acquire's context, up to DB_CONNECT_TIMEOUT_MS)
// and joins the pool, instead of being torn down at 750 ms and started again, which on a
// busy host kept the pool from ever growing. The statement by statement_timeout plus that much
// (the Node pool's query_timeout). A client that disconnects does not cancel the
// work: the statement runs to its end, as in the Node models, and the connection
// is not thrown away.
func (s *store) withConn(parent context.Context, fn func(ctx context.Context, conn *pgxpool.Conn) error) error {
	base := context.WithoutCancel(parent)
	acquireCtx, cancelAcquire := context.WithTimeout(base, s.cfg.connectionTimeout)
	s.waiting.Add(1)
	conn, err := s.pool.Acquire(acquireCtx)
	s.waiting.Add(-1)
	cancelAcquire()
	if err != nil {
		return classify(err)
	}
	defer conn.Release()
	queryCtx, cancelQuery := context.WithTimeout(base, s.cfg.statementTimeout+s.cfg.connectionTimeout)
	defer cancelQuery()
	return classify(fn(queryCtx, conn))
}

// findWorld returns the row, or nil when there is none.
func (s *store) findWorld(ctx context.Context, id int) (*world, error) {
	var w world
	err := s.withConn(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, worldQuery, id, s.delaySeconds).Scan(&w.ID, &w.RandomNumber)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

func (s *store) ping(ctx context.Context) error {
	return s.withConn(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		_, err := conn.Exec(ctx, "SELECT 1")
		return err
	})
}

type poolStats struct {
	Max     int32 `json:"max"`
	Total   int32 `json:"total"`
	Idle    int32 `json:"idle"`
	Waiting int64 `json:"waiting"`
}

func (s *store) stats() poolStats {
	st := s.pool.Stat()
	return poolStats{Max: st.MaxConns(), Total: st.TotalConns(), Idle: st.IdleConns(), Waiting: s.waiting.Load()}
}

func (s *store) close() { s.pool.Close() }

// unavailableError keeps the driver's error for the log; the client sees only errUnavailable.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string { return "database unavailable: " + e.cause.Error() }
func (e *unavailableError) Unwrap() []error {
	return []error{errUnavailable, e.cause}
}

// classify marks the errors that mean "the database cannot serve you now" (the same
// SQLSTATE classes as db.ts: 08 connection, 53 resources, 57P0x shutdown, 57014
// statement timeout; plus network errors and timeouts). Anything else is a bug: 500.
func classify(err error) error {
	if err == nil || errors.Is(err, pgx.ErrNoRows) || errors.Is(err, errUnavailable) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		if strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P0") || c == "57014" {
			return &unavailableError{err}
		}
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, net.ErrClosed), errors.Is(err, puddle.ErrClosedPool), pgconn.SafeToRetry(err),
		strings.Contains(err.Error(), "conn closed"):
		return &unavailableError{err}
	}
	return err
}
