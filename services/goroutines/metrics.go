package main

import (
	"bufio"
	"bytes"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Request accounting and /metrics: the metric names, labels and buckets of
// services/common/src/stats.ts, where the concept exists in Go.

var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.055, 0.06, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

type recorder struct {
	registry *prometheus.Registry
	db       *store

	inFlight    peak
	total       atomic.Int64
	connections peak // goroutines serving a connection: one per open connection
	accepted    atomic.Int64
	goroutines  peak
	threads     peak
	// unitsCrashed: handler goroutines that panicked.
	unitsCrashed atomic.Int64

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	inFlightGauge prometheus.Gauge
	inFlightMax   prometheus.Gauge
}

func newRecorder(db *store) *recorder {
	r := &recorder{registry: prometheus.NewRegistry(), db: db}
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"model": model}, r.registry)
	// Go's own runtime and process metrics, as prom-client's defaults are Node's.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests by route and status; status=\"aborted\": the client went away before the response was sent."}, []string{"route", "status"})
	r.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Time from request to response end.", Buckets: latencyBuckets}, []string{"route"})
	r.inFlightGauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "http_requests_in_flight", Help: "Requests being served now, across all units."})
	r.inFlightMax = prometheus.NewGauge(prometheus.GaugeOpts{Name: "http_requests_in_flight_max", Help: "Most requests ever in flight at once since start."})
	gauge := func(name, help string, read func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read)
	}
	reg.MustRegister(r.requests, r.latency, r.inFlightGauge, r.inFlightMax,
		gauge("model_units_alive", "Units of concurrency alive (here: goroutines serving a connection).", func() float64 { return float64(r.connections.now.Load()) }),
		gauge("model_units_started", "Units of concurrency started since the service started (one goroutine per accepted connection).", func() float64 { return float64(r.accepted.Load()) }),
		gauge("model_db_max_connections", "Database connections the service may open in all (pool max x pools).", func() float64 { return float64(db.cfg.poolMax) }),
		gauge("service_resident_memory_bytes", "Resident memory summed over every process of the service.", func() float64 { return float64(residentBytes()) }),
		gauge("model_os_threads", "OS threads of the process now (Threads: in /proc/self/status).", func() float64 { return float64(osThreads()) }),
		gauge("model_gomaxprocs", "GOMAXPROCS: threads that may run Go code at once.", func() float64 { return float64(runtime.GOMAXPROCS(0)) }),
		cgroupCollector{},
	)
	// model_units_limit is absent: nothing bounds the goroutines.
	return r
}

func (r *recorder) started() {
	r.inFlight.add(1)
	r.inFlightGauge.Set(float64(r.inFlight.now.Load()))
	r.inFlightMax.Set(float64(r.inFlight.max.Load()))
	r.goroutines.raise(int64(runtime.NumGoroutine()))
}

// finished counts one request. aborted: the client went away before the response was
// sent (net/http cancels the request's context when the connection closes); it is
// counted status="aborted", as the Node models do, and its time is left out of the
// latency histogram (it is the client's patience, not the model's latency).
func (r *recorder) finished(route string, status int, aborted bool, took time.Duration) {
	r.inFlight.add(-1)
	r.total.Add(1)
	r.inFlightGauge.Set(float64(r.inFlight.now.Load()))
	if aborted {
		r.requests.WithLabelValues(route, "aborted").Inc()
		return
	}
	r.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	r.latency.WithLabelValues(route).Observe(took.Seconds())
}

// connState is http.Server.ConnState: net/http starts the connection's goroutine right
// after StateNew and ends it after StateClosed or StateHijacked.
func (r *recorder) connState(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		r.accepted.Add(1)
		r.connections.add(1)
	case http.StateClosed, http.StateHijacked:
		r.connections.add(-1)
	}
}

const metricsType = "text/plain; version=0.0.4; charset=utf-8"

func (r *recorder) metrics() reply {
	families, err := r.registry.Gather()
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err == nil {
			err = enc.Encode(f)
		}
	}
	if err != nil {
		return errorReply(500, "internal_error", "the metrics could not be collected; see the service log")
	}
	return reply{status: 200, body: integralValues(b.Bytes()), contentType: metricsType}
}

// integralValues writes whole-number sample values as integers (12345678, not the
// 1.2345678e+07 expfmt writes), as prom-client does: both are valid Prometheus text,
// and the same number then reads the same in every model's /metrics.
func integralValues(text []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(text))
	lines := bufio.NewScanner(bytes.NewReader(text))
	lines.Buffer(make([]byte, 64*1024), 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if cut := strings.LastIndexByte(line, ' '); cut > 0 && !strings.HasPrefix(line, "#") {
			if v, err := strconv.ParseFloat(line[cut+1:], 64); err == nil && v == math.Trunc(v) && math.Abs(v) < 1e18 {
				line = line[:cut+1] + strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// cgroupCollector reads the cgroup files once per scrape and exports what this host has.
type cgroupCollector struct{}

var cgroupGauges = []struct {
	name, help string
	read       func(c cgroupReading) *float64
}{
	{"container_memory_bytes", "Memory the container cgroup uses now.", func(c cgroupReading) *float64 { return c.MemoryCurrentBytes }},
	{"container_memory_peak_bytes", "Highest memory the container cgroup used.", func(c cgroupReading) *float64 { return c.MemoryPeakBytes }},
	{"container_memory_limit_bytes", "Memory limit of the container cgroup.", func(c cgroupReading) *float64 { return c.MemoryLimitBytes }},
	{"container_cpu_quota_cores", "CPU quota of the container cgroup, in cores.", func(c cgroupReading) *float64 { return c.CPUQuotaCores }},
	{"container_cpu_usage_seconds", "CPU time used by the container cgroup.", func(c cgroupReading) *float64 { return c.CPUUsageSeconds }},
	{"container_oom_kills", "OOM kills in the container cgroup.", func(c cgroupReading) *float64 { return c.OOMKills }},
}

var cgroupDescs = func() []*prometheus.Desc {
	d := make([]*prometheus.Desc, len(cgroupGauges))
	for i, g := range cgroupGauges {
		d[i] = prometheus.NewDesc(g.name, g.help, nil, nil)
	}
	return d
}()

func (cgroupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range cgroupDescs {
		ch <- d
	}
}

func (cgroupCollector) Collect(ch chan<- prometheus.Metric) {
	reading := readCgroup()
	for i, g := range cgroupGauges {
		if v := g.read(reading); v != nil {
			ch <- prometheus.MustNewConstMetric(cgroupDescs[i], prometheus.GaugeValue, *v)
		}
	}
}
