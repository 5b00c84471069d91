package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ticksPerSecond is USER_HZ, the unit of /proc's CPU times, which Linux fixes at 100 for every program.
const ticksPerSecond = 100

// cpuSnapshot is the CPU time used so far, in seconds: by the whole machine, and by each of the processes that
// share it in a benchmark. Two of them say where the cores went between them, which is what shows whether a rate
// is held back by the service's own work, by the database's, or by the machine having no more to give.
type cpuSnapshot struct {
	at      time.Time
	busy    float64 // all cores, but idle and waiting for I/O
	serve   float64 // the optout serve process
	db      float64 // every postgres process
	redis   float64 // every redis-server process
	harness float64 // this process, the load's clients and the baselines
}

// cpuShares are the cores each used between two snapshots.
type cpuShares struct {
	busy, serve, db, redis, harness float64
	wall                            float64 // seconds between the snapshots
}

// perOp is the CPU time in milliseconds that cores over the window cost each of n operations.
func (c cpuShares) perOp(cores float64, n int) float64 {
	return 1000 * cores * c.wall / float64(max(n, 1))
}

// others are the cores busy with anything else: the kernel's own work, which no process is charged with, and work
// on the machine that is no part of the benchmark, and skews it.
func (c cpuShares) others() float64 {
	return max(0, c.busy-c.serve-c.db-c.redis-c.harness)
}

func takeCPU(servePID int) cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), busy: machineBusy(), harness: processCPU("self")}
	if servePID > 0 {
		s.serve = processCPU(strconv.Itoa(servePID))
	}
	s.db, s.redis = commandCPU("postgres"), commandCPU("redis-server")
	return s
}

func (a cpuSnapshot) to(b cpuSnapshot) cpuShares {
	wall := b.at.Sub(a.at).Seconds()
	return cpuShares{
		busy:    (b.busy - a.busy) / wall,
		serve:   (b.serve - a.serve) / wall,
		db:      (b.db - a.db) / wall,
		redis:   (b.redis - a.redis) / wall,
		harness: (b.harness - a.harness) / wall,
		wall:    wall,
	}
}

// machineBusy reads the seconds all cores spent busy from /proc/stat's first line.
func machineBusy() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is counted in user already
			break
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		busy += n
	}
	return float64(busy) / ticksPerSecond
}

// processCPU reads the user and system seconds of the process from /proc/PID/stat; 0 if it is gone.
func processCPU(pid string) float64 {
	_, cpu := readStat(filepath.Join("/proc", pid, "stat"))
	return cpu
}

// commandCPU adds up the CPU seconds of every process of the command, such as postgres with its backends.
func commandCPU(comm string) float64 {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total float64
	for _, p := range paths {
		if name, cpu := readStat(p); name == comm {
			total += cpu
		}
	}
	return total
}

// readStat reads a process's command name and its user and system seconds from its stat file.
func readStat(path string) (string, float64) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", 0
	}
	s := string(data)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0
	}
	fields := strings.Fields(s[closing+1:]) // from the state, field 3; utime and stime are fields 14 and 15
	if len(fields) < 13 {
		return "", 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return s[open+1 : closing], float64(utime+stime) / ticksPerSecond
}
