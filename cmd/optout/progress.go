package main

import (
	"fmt"
	"io"
	"strings"
)

// progress shows how far a long job is: a bar redrawn in place on a terminal, and a line at every tenth of the way
// otherwise, so that logs of a scripted run aren't flooded.
type progress struct {
	w        io.Writer
	label    string
	total    int // -1 when unknown
	terminal bool
	shown    int // the tenths shown, off a terminal
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total, terminal: isTerminal(w)}
}

func (p *progress) set(n int) {
	switch {
	case p.terminal && p.total > 0:
		const width = 30
		filled := width * n / p.total
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled), n, p.total)
	case p.terminal:
		fmt.Fprintf(p.w, "\r%s %d", p.label, n)
	case p.total > 0 && 10*n/p.total > p.shown:
		p.shown = 10 * n / p.total
		fmt.Fprintf(p.w, "%s: %d/%d\n", p.label, n, p.total)
	}
}

func (p *progress) done() {
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}
