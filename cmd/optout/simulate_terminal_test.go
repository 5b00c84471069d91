//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// On a terminal, simulate edits lines and recalls earlier ones, as a shell does, and leaves the terminal as it found
// it. The test types into a pseudo-terminal, waiting for the prompt each time, as a person would.
func TestSimulateTerminal(t *testing.T) {
	typist, tty := openPTY(t)
	echoing := termios(t, tty).Lflag & unix.ECHO

	screen := &screen{}
	go screen.record(typist)

	var stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run([]string{"simulate", "--flow", "../../flows/optout.json"}, tty, tty, &stderr)
	}()

	for _, keys := range []string{
		"PARAR\r",
		"\r",                               // an empty line is no message
		"#voltar\r",                        // opts back in
		"\x1b[A\x1b[A\r",                   // up twice: PARAR again
		"#votar\x1b[D\x1b[D\x1b[Dl\r",      // three to the left, then the l that was missing: #voltar
		"PARARxyz\x1b[D\x1b[D\x1b[D\x0b\r", // Ctrl-K deletes to the end of the line: PARAR
		"\x04",                             // Ctrl-D on an empty line ends the chat
	} {
		screen.waitFor(t, "\n> ")
		_, err := typist.Write([]byte(keys))
		require.NoError(t, err)
	}

	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("simulate didn't end; the screen shows:\n%s", screen.text())
	}

	text := screen.text()
	var changes []string
	for line := range strings.Lines(text) {
		if _, change, ok := strings.Cut(line, "consent_changed: "); ok {
			changes = append(changes, strings.TrimSpace(change))
		}
	}
	assert.Equal(t, []string{
		`undefined -> opted_out (keyword "parar", por): the host sends the webhook`,
		`opted_out -> opted_in (keyword "#voltar", por): the host sends the webhook`,
		`opted_in -> opted_out (keyword "parar", por): the host sends the webhook`,
		`opted_out -> opted_in (keyword "#voltar", por): the host sends the webhook`,
		`opted_in -> opted_out (keyword "parar", por): the host sends the webhook`,
	}, changes, text)
	assert.NotContains(t, text, "> PARAR\r\n> PARAR", "what the terminal shows as it's typed isn't echoed again")
	assert.Contains(t, text, "\r\n< Seu pedido", "lines end as a terminal in raw mode needs them to")

	assert.Equal(t, echoing, termios(t, tty).Lflag&unix.ECHO, "the terminal is restored")
}

// openPTY opens a pseudo-terminal: what the test types into, and the terminal that simulate reads.
func openPTY(t *testing.T) (typist, tty *os.File) {
	typist, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %s", err)
	}
	t.Cleanup(func() { typist.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(typist.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetUint32(int(typist.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { tty.Close() })
	return typist, tty
}

func termios(t *testing.T, f *os.File) *unix.Termios {
	state, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	require.NoError(t, err)
	return state
}

// screen is what the terminal has shown.
type screen struct {
	mu    sync.Mutex
	shown []byte
	read  int // how much waitFor has looked at
}

func (s *screen) record(f *os.File) {
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		s.mu.Lock()
		s.shown = append(s.shown, buf[:n]...)
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.shown)
}

// waitFor waits until what the screen shows next includes text, and moves past it.
func (s *screen) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		i := bytes.Index(s.shown[s.read:], []byte(text))
		if i >= 0 {
			s.read += i + len(text)
		}
		s.mu.Unlock()
		if i >= 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the screen never showed %q; it shows:\n%q", text, s.text())
}
