package iostreams

import (
	"os"
	"sync"

	"golang.org/x/term"
)

// TerminalSize returns the size of the output terminal (columns, rows).
func (s *IOStreams) TerminalSize() (cols, rows int, ok bool) {
	f, isFile := s.Out.(*os.File)
	if !isFile || !s.stdoutTTY {
		return 0, 0, false
	}
	w, h, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0, 0, false
	}
	return w, h, true
}

// MakeRaw puts the input terminal in raw mode and returns the function that
// restores it; it is safe to call the restore function more than once (on
// every exit path). When input is not a terminal it does nothing.
func (s *IOStreams) MakeRaw() (restore func(), err error) {
	f, isFile := s.In.(*os.File)
	if !isFile || !s.stdinTTY {
		return func() {}, nil
	}
	old, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return func() {}, err
	}
	var once sync.Once
	return func() { once.Do(func() { _ = term.Restore(int(f.Fd()), old) }) }, nil
}
