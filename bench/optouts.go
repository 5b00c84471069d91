package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// listLimit is the most a list command may hold at once, whatever the list's size.
const listLimit = 256

func runOptOuts(ctx context.Context, r *run) error {
	good, bad, err := r.writeLists()
	if err != nil {
		return err
	}
	for _, t := range r.targets {
		if err := r.optOuts(ctx, t, good, bad); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

// writeLists writes a list of Options.Contacts numbers to opt out, as a CSV of urn and name, and the same list with
// one bad row at its end.
func (r *run) writeLists() (good, bad string, err error) {
	good, bad = filepath.Join(r.dir, "optouts.csv"), filepath.Join(r.dir, "optouts-bad.csv")
	var rows bytes.Buffer
	rows.WriteString("urn,name\n")
	for i := range r.opts.Contacts {
		fmt.Fprintf(&rows, "%s,Contato %d\n", urnOf(41, i), i)
	}
	if err := os.WriteFile(good, rows.Bytes(), 0o600); err != nil {
		return "", "", err
	}
	rows.WriteString("whatsapp:123,Not a number\n")
	return good, bad, os.WriteFile(bad, rows.Bytes(), 0o600)
}

func (r *run) optOuts(ctx context.Context, t *target, good, bad string) error {
	s, err := r.startServe(ctx, t)
	if err != nil {
		return err
	}
	defer s.stop()
	n := r.opts.Contacts
	imports := &Result{
		Name: "optouts/import/" + t.name,
		What: fmt.Sprintf("`optout import-optouts` of a CSV list of %s new numbers into a workspace of %s, as a process: its "+
			"peak RSS (its VmHWM, read from /proc while it runs). All or nothing: the same list with "+
			"one bad row at its end must be refused, with exit code 1, and leave the workspace without a contact.", count(n), t.label),
		Measured: Side{Label: "import-optouts peak RSS", Unit: "MiB"},
		Target:   []Criterion{{ofMeasured, "<=", listLimit}, {"all or nothing", ">=", 1}},
	}
	exports := &Result{
		Name: "optouts/export/" + t.name,
		What: fmt.Sprintf("`optout export-optouts --output FILE` of the %s opted-out contacts the import made, as a "+
			"process: its peak RSS, and that the file has every one.", count(n)),
		Measured: Side{Label: "export-optouts peak RSS", Unit: "MiB"},
		Target:   []Criterion{{ofMeasured, "<=", listLimit}},
	}

	err = r.repeat(func(int) (bool, error) {
		ws, err := r.createWorkspace(ctx, s, "optouts", "")
		if err != nil {
			return false, err
		}
		elapsed, peak, err := r.command(ctx, t, "import-optouts", "--workspace", ws.ID, good)
		if err != nil {
			return false, err
		}
		if contacts, optedOut, err := r.counts(ctx, s, ws); err != nil || optedOut != n || contacts != n {
			return false, fmt.Errorf("after importing %d opt-outs the workspace has %d contacts, %d opted out (%v)", n, contacts, optedOut, err)
		}
		imports.Measured.add(mib(peak))
		imports.metric("time", "s").add(elapsed.Seconds())
		imports.metric("rows per second", "rows/s").add(float64(n) / elapsed.Seconds())

		file := filepath.Join(r.dir, "export.csv")
		elapsed, peak, err = r.command(ctx, t, "export-optouts", "--workspace", ws.ID, "--output", file)
		if err != nil {
			return false, err
		}
		if lines, err := countLines(file); err != nil || lines != n+1 {
			return false, fmt.Errorf("export-optouts wrote %d lines for %d opt-outs and a header (%v)", lines, n, err)
		}
		exports.Measured.add(mib(peak))
		exports.metric("time", "s").add(elapsed.Seconds())
		exports.metric("rows per second", "rows/s").add(float64(n) / elapsed.Seconds())

		refused, err := r.createWorkspace(ctx, s, "optouts-bad", "")
		if err != nil {
			return false, err
		}
		_, peak, err = r.command(ctx, t, "import-optouts", "--workspace", refused.ID, bad)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			return false, fmt.Errorf("import-optouts of a list with a bad row: want exit code 1, got %v", err)
		}
		contacts, _, err := r.counts(ctx, s, refused)
		if err != nil {
			return false, err
		}
		imports.metric("all or nothing", "").add(float64(b2i(contacts == 0)))
		imports.metric("peak RSS refusing the list with a bad row", "MiB").add(mib(peak))

		for _, w := range []*workspace{ws, refused} {
			if err := r.deleteWorkspace(ctx, s, w); err != nil {
				return false, err
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	r.add(imports)
	r.add(exports)
	return nil
}

// command runs an optout command on the target's store, and returns how long it took and its peak resident set.
// A command that fails returns its exit error, with its output.
//
// The peak is VmHWM, read from /proc while the command runs: it is the high-water mark of the command's own
// memory, so the last reading before it exits is its peak but for what it added in the last few milliseconds. The
// maximum resident set that wait4 reports would not do: Go starts commands with vfork, and Linux counts the
// parent's resident set, the harness's, into the child's maximum when the child executes the command.
func (r *run) command(ctx context.Context, t *target, args ...string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, r.opts.Binary, args...)
	cmd.Env = append(environ(), t.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	exited := make(chan struct{})
	peaks := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			if _, hwm, err := procMemory(cmd.Process.Pid); err == nil {
				peak = max(peak, hwm)
			}
			select {
			case <-exited:
				peaks <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	elapsed := time.Since(started)
	close(exited)
	peak := <-peaks
	if err != nil {
		return elapsed, peak, fmt.Errorf("optout %s: %w: %s", args[0], err, bytes.TrimSpace(out.Bytes()))
	}
	return elapsed, peak, nil
}

// counts returns how many contacts the workspace has, and how many of them opted out.
func (r *run) counts(ctx context.Context, s *server, ws *workspace) (contacts, optedOut int, err error) {
	var list struct {
		Results []struct {
			ID       string `json:"id"`
			Contacts int    `json:"contacts"`
			OptedOut int    `json:"opted_out"`
		} `json:"results"`
	}
	if err := r.admin(s).call(ctx, "GET", "/v1/workspaces", nil, http.StatusOK, &list); err != nil {
		return 0, 0, err
	}
	for _, w := range list.Results {
		if w.ID == ws.ID {
			return w.Contacts, w.OptedOut, nil
		}
	}
	return 0, 0, fmt.Errorf("no workspace %s in the list", ws.ID)
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	n := 0
	for lines.Scan() {
		n++
	}
	return n, lines.Err()
}
