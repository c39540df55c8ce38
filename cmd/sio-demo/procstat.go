package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// The bench reads what each server process uses from /proc (Linux).

// clockTicks is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which is 100 on every Linux the tool runs on.
const clockTicks = 100

// rssBytes is the resident set size of process pid (VmRSS).
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: odd VmRSS line %q", pid, line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// cpuSeconds is the CPU time process pid has used, user plus system
// (utime+stime), in seconds.
func cpuSeconds(pid int) (float64, error) {
	user, sys, err := cpuTimes(pid)
	return user + sys, err
}

// cpuTimes is the CPU time process pid (0: this one) has used in user
// mode (utime) and in the kernel on its behalf (stime), in seconds.
func cpuTimes(pid int) (user, sys float64, err error) {
	name := "/proc/self/stat"
	if pid > 0 {
		name = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%s: no command name", name)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("%s: too few fields", name)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%s: bad utime/stime", name)
	}
	return float64(ut) / clockTicks, float64(st) / clockTicks, nil
}

// machineBusySeconds is the CPU time all processes have used, summed over
// the cores: everything /proc/stat counts but idle and iowait.
func machineBusySeconds() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 6 || string(f[0]) != "cpu" {
		return 0, fmt.Errorf("/proc/stat: odd first line %q", line)
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		// Fields: user nice system idle iowait irq softirq steal guest
		// guest_nice; guest time is already in user and nice.
		switch i {
		case 3, 4, 8, 9:
		default:
			busy += n
		}
	}
	return float64(busy) / clockTicks, nil
}

// ioCalls is how many read-family and write-family system calls process
// pid has made (syscr and syscw of /proc/PID/io): on a socket server, a
// count of its reads and writes.
func ioCalls(pid int) (reads, writes int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0, err
	}
	var gotR, gotW bool
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte(":"))
		if !ok {
			continue
		}
		n, perr := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		switch string(k) {
		case "syscr":
			reads, gotR, err = n, true, perr
		case "syscw":
			writes, gotW, err = n, true, perr
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if !gotR || !gotW {
		return 0, 0, fmt.Errorf("/proc/%d/io: no syscr/syscw", pid)
	}
	return reads, writes, nil
}
