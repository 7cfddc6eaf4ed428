package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// What the container allows, read from the kernel's cgroup files (v2, then v1), with
// the same fields and meaning as services/common/src/cgroup.ts. null: unlimited or unknown.
type cgroupReading struct {
	Version            *int     `json:"version"`
	CPUQuotaCores      *float64 `json:"cpuQuotaCores"`
	MemoryLimitBytes   *float64 `json:"memoryLimitBytes"`
	MemoryCurrentBytes *float64 `json:"memoryCurrentBytes"`
	MemoryPeakBytes    *float64 `json:"memoryPeakBytes"`
	CPUUsageSeconds    *float64 `json:"cpuUsageSeconds"`
	OOMKills           *float64 `json:"oomKills"`
	PidsCurrent        *float64 `json:"pidsCurrent"`
	PidsMax            *float64 `json:"pidsMax"`
}

const cgroupRoot = "/sys/fs/cgroup"

// cgroup v1 reports "no limit" as a page-aligned huge number.
const v1Unlimited = 1 << 62

func readTrimmed(path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func number(text string, ok bool) *float64 {
	if !ok || text == "max" {
		return nil
	}
	n, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil
	}
	return &n
}

func readNumber(path string) *float64 { return number(readTrimmed(path)) }

// statField is "<field> <n>" in a flat-keyed file such as cpu.stat or memory.events.
func statField(path, field string) *float64 {
	text, ok := readTrimmed(path)
	if !ok {
		return nil
	}
	for _, line := range strings.Split(text, "\n") {
		if value, found := strings.CutPrefix(line, field+" "); found {
			return number(value, true)
		}
	}
	return nil
}

func scaled(n *float64, by float64) *float64 {
	if n == nil {
		return nil
	}
	v := *n / by
	return &v
}

// v2Dir is this process's cgroup v2 directory: "/" inside a container, nested on a host.
func v2Dir() string {
	text, _ := readTrimmed("/proc/self/cgroup")
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			dir := filepath.Join(cgroupRoot, rest)
			if _, ok := readTrimmed(filepath.Join(dir, "memory.current")); ok {
				return dir
			}
		}
	}
	return cgroupRoot
}

func readV2() cgroupReading {
	dir := v2Dir()
	at := func(name string) string { return filepath.Join(dir, name) }
	version := 2
	r := cgroupReading{
		Version:            &version,
		MemoryLimitBytes:   readNumber(at("memory.max")),
		MemoryCurrentBytes: readNumber(at("memory.current")),
		MemoryPeakBytes:    readNumber(at("memory.peak")),
		CPUUsageSeconds:    scaled(statField(at("cpu.stat"), "usage_usec"), 1e6),
		OOMKills:           statField(at("memory.events"), "oom_kill"),
		PidsCurrent:        readNumber(at("pids.current")),
		PidsMax:            readNumber(at("pids.max")),
	}
	if cpuMax, ok := readTrimmed(at("cpu.max")); ok {
		if quota, period, found := strings.Cut(cpuMax, " "); found {
			q, p := number(quota, true), number(period, true)
			if q != nil && p != nil && *p != 0 {
				r.CPUQuotaCores = scaled(q, *p)
			}
		}
	}
	return r
}

func readV1() cgroupReading {
	version := 1
	r := cgroupReading{
		Version:            &version,
		MemoryCurrentBytes: readNumber(cgroupRoot + "/memory/memory.usage_in_bytes"),
		MemoryPeakBytes:    readNumber(cgroupRoot + "/memory/memory.max_usage_in_bytes"),
		CPUUsageSeconds:    scaled(readNumber(cgroupRoot+"/cpuacct/cpuacct.usage"), 1e9),
		OOMKills:           statField(cgroupRoot+"/memory/memory.oom_control", "oom_kill"),
		PidsCurrent:        readNumber(cgroupRoot + "/pids/pids.current"),
		PidsMax:            readNumber(cgroupRoot + "/pids/pids.max"),
	}
	quota, period := readNumber(cgroupRoot+"/cpu/cpu.cfs_quota_us"), readNumber(cgroupRoot+"/cpu/cpu.cfs_period_us")
	if quota != nil && *quota > 0 && period != nil && *period != 0 {
		r.CPUQuotaCores = scaled(quota, *period)
	}
	if limit := readNumber(cgroupRoot + "/memory/memory.limit_in_bytes"); limit != nil && *limit < v1Unlimited {
		r.MemoryLimitBytes = limit
	}
	return r
}

func readCgroup() cgroupReading {
	if _, ok := readTrimmed(cgroupRoot + "/cgroup.controllers"); ok {
		return readV2()
	}
	if _, ok := readTrimmed(cgroupRoot + "/memory/memory.limit_in_bytes"); ok {
		return readV1()
	}
	return cgroupReading{}
}

// procStatus is one "Name: value" field of /proc/self/status as a number (kB fields in kB).
func procStatus(field string) (int64, bool) {
	text, ok := readTrimmed("/proc/self/status")
	if !ok {
		return 0, false
	}
	for _, line := range strings.Split(text, "\n") {
		if value, found := strings.CutPrefix(line, field+":"); found {
			digits := strings.TrimSuffix(strings.TrimSpace(value), " kB")
			n, err := strconv.ParseInt(digits, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func residentBytes() int64 {
	kb, _ := procStatus("VmRSS")
	return kb * 1024
}

func osThreads() int64 {
	n, _ := procStatus("Threads")
	return n
}
