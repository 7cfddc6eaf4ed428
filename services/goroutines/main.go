// goroutines: Go's net/http, the M:N model. http.Server.Serve accepts connections in
// a loop and runs `go c.serve(ctx)` for each: one goroutine per connection. While a
// goroutine waits (for the next request, for Postgres, for a pool connection) the
// runtime parks it on the netpoller, and GOMAXPROCS OS threads run whichever
// goroutines are ready, stealing work from each other. Nothing here bounds the
// goroutines; the pool (DB_POOL_MAX) bounds the statements running at once.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

const model = "goroutines"

func main() {
	check := flag.Bool("healthcheck", false, "GET http://127.0.0.1:$PORT/healthz and exit 0 when it answers 200")
	flag.Parse()
	if *check {
		os.Exit(healthcheck())
	}
	// First, before anything that takes time: a SIGTERM during start-up is not lost.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "configuration error: %s\n", err)
		os.Exit(1)
	}
	os.Exit(run(cfg, newLogger(cfg.logLevel), signals))
}

func run(cfg config, log *slog.Logger, signals <-chan os.Signal) int {
	db, err := newStore(cfg.db, cfg.dbDelay, model)
	if err != nil {
		fmt.Fprintf(os.Stderr, "failed to start: %s\n", err)
		return 1
	}
	stats := newRecorder(db)
	go stats.sampleThreads(make(chan struct{}))

	server := &http.Server{
		Handler:           newService(db, stats, log),
		ReadHeaderTimeout: cfg.headersTimeout, // the Slowloris defence
		ReadTimeout:       cfg.requestTimeout,
		IdleTimeout:       cfg.keepAliveTimeout,
		MaxHeaderBytes:    2 * maxHeaderBytes, // above the handler's own 16 KiB check
		ConnState:         stats.connState,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// An IPv4 address (the default 0.0.0.0) listens on IPv4 only, as node does; Go's "tcp" would be dual-stack.
	network := "tcp"
	if ip := net.ParseIP(cfg.host); ip != nil && ip.To4() != nil {
		network = "tcp4"
	}
	listener, err := net.Listen(network, net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "failed to start: %s\n", err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(jsonErrorListener{listener}) }()
	log.Info("listening", "address", describe(listener.Addr()), "poolMax", cfg.db.poolMax)

	var sig os.Signal
	select {
	case err := <-served:
		log.Error("server failed", "err", err.Error())
		return 1
	case sig = <-signals:
	}
	log.Info("shutting down: draining in-flight requests", "signal", sig.String(), "timeoutMs", cfg.shutdownTimeout.Milliseconds())
	go func() {
		<-signals
		log.Warn("second signal: exiting now")
		os.Exit(1)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	// Stops accepting, closes idle connections, waits for every in-flight request.
	if err := server.Shutdown(ctx); err != nil {
		log.Error("shutdown timed out: exiting with requests still open", "timeoutMs", cfg.shutdownTimeout.Milliseconds(), "inFlight", stats.inFlight.now.Load())
		return 1
	}
	db.close()
	log.Info("shutdown complete")
	return 0
}

// describe is an address as node's server.address() gives it (the test harness reads the port).
func describe(a net.Addr) map[string]any {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return map[string]any{"address": a.String()}
	}
	family := "IPv6"
	if tcp.IP.To4() != nil {
		family = "IPv4"
	}
	return map[string]any{"address": tcp.IP.String(), "family": family, "port": tcp.Port}
}
