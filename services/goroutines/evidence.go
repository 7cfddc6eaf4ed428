package main

import (
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// The model's evidence at /model, in the shape of services/common/src/stats.ts
// (Evidence), so the load runner reads it unchanged. The unit is a goroutine that
// serves a connection: net/http starts one per accepted connection (Server.ConnState
// sees each one start and end). Go-specific readings go under "extra".

type counterPair struct {
	Now int64 `json:"now"`
	Max int64 `json:"max"`
}

type units struct {
	Kind    string `json:"kind"`
	Alive   int64  `json:"alive"`
	Started int64  `json:"started"`
	Limit   *int64 `json:"limit"`
}

type dbEvidence struct {
	// DelayMs is DB_DELAY_MS: what each /db statement waits inside Postgres.
	DelayMs        int64     `json:"delayMs"`
	PoolMaxPerUnit int       `json:"poolMaxPerUnit"`
	Pools          int       `json:"pools"`
	Pool           poolStats `json:"pool"`
	MaxConnections int       `json:"maxConnections"`
}

type memoryEvidence struct {
	RSSBytes  int64 `json:"rssBytes"`
	Processes int   `json:"processes"`
}

type goExtra struct {
	// Goroutines is runtime.NumGoroutine(): every goroutine of the process, the runtime's,
	// the pool's and the two net/http runs for a connection with a request in flight.
	Goroutines counterPair `json:"goroutines"`
	// OSThreads is "Threads:" of /proc/self/status.
	OSThreads  counterPair `json:"osThreads"`
	GOMAXPROCS int         `json:"gomaxprocs"`
	NumCPU     int         `json:"numCpu"`
	GoVersion  string      `json:"goVersion"`
	// PeakSampleMs: the two maxima are sampled at every request and on this interval.
	PeakSampleMs int64 `json:"peakSampleMs"`
	// UnitsCrashed: handler goroutines that panicked (each ends only its own connection).
	UnitsCrashed int64 `json:"unitsCrashed"`
}

type evidence struct {
	Model         string         `json:"model"`
	Pid           int            `json:"pid"`
	ThreadID      int            `json:"threadId"`
	SupervisorPid int            `json:"supervisorPid"`
	Node          string         `json:"node"`
	Units         units          `json:"units"`
	InFlight      counterPair    `json:"inFlight"`
	RequestsTotal int64          `json:"requestsTotal"`
	DB            dbEvidence     `json:"db"`
	Memory        memoryEvidence `json:"memory"`
	Cgroup        cgroupReading  `json:"cgroup"`
	Extra         goExtra        `json:"extra"`
}

// peak is a counter with the highest value it ever had.
type peak struct{ now, max atomic.Int64 }

func (p *peak) raise(v int64) {
	for {
		m := p.max.Load()
		if v <= m || p.max.CompareAndSwap(m, v) {
			return
		}
	}
}

func (p *peak) add(d int64) { p.raise(p.now.Add(d)) }

func (p *peak) set(v int64) {
	p.now.Store(v)
	p.raise(v)
}

func (p *peak) pair() counterPair { return counterPair{Now: p.now.Load(), Max: p.max.Load()} }

const peakSampleInterval = 100 * time.Millisecond

// sampleThreads keeps the goroutine and OS thread maxima between requests too.
func (r *recorder) sampleThreads(stop <-chan struct{}) {
	t := time.NewTicker(peakSampleInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.goroutines.set(int64(runtime.NumGoroutine()))
			r.threads.set(osThreads())
		}
	}
}

func (r *recorder) evidence(tid int) evidence {
	r.goroutines.set(int64(runtime.NumGoroutine()))
	r.threads.set(osThreads())
	pid := os.Getpid()
	return evidence{
		Model:         model,
		Pid:           pid,
		ThreadID:      tid,
		SupervisorPid: pid,
		// The field the Node models fill with process.version: here the Go runtime's version.
		Node:          runtime.Version(),
		Units:         units{Kind: "goroutine", Alive: r.connections.now.Load(), Started: r.accepted.Load(), Limit: nil},
		InFlight:      r.inFlight.pair(),
		RequestsTotal: r.total.Load(),
		DB: dbEvidence{
			DelayMs: int64(r.db.delaySeconds * 1000), PoolMaxPerUnit: r.db.cfg.poolMax, Pools: 1, Pool: r.db.stats(), MaxConnections: r.db.cfg.poolMax,
		},
		Memory: memoryEvidence{RSSBytes: residentBytes(), Processes: 1},
		Cgroup: readCgroup(),
		Extra: goExtra{
			Goroutines: r.goroutines.pair(), OSThreads: r.threads.pair(),
			GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(),
			PeakSampleMs: peakSampleInterval.Milliseconds(), UnitsCrashed: r.unitsCrashed.Load(),
		},
	}
}
