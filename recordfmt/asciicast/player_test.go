package asciicast

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

type playStep struct {
	wait time.Duration
	typ  byte
	data string
}

func play(t *testing.T, p *Player) []playStep {
	t.Helper()
	var got []playStep
	for {
		st, err := p.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, playStep{st.Wait, st.Type, string(st.Data)})
	}
}

func TestPlayer(t *testing.T) {
	session := []step{out(1000, "a"), in(1500, "k"), out(2000, "b"), resize(12000, 100, 40), out(13000, "c")}
	cases := []struct {
		name string
		opt  PlayOptions
		want []playStep
	}{
		{"real pace", PlayOptions{}, []playStep{
			{ms(1000), 'o', "a"}, {ms(500), 'i', "k"}, {ms(500), 'o', "b"}, {ms(10000), 'r', ""}, {ms(1000), 'o', "c"}}},
		{"double speed", PlayOptions{Speed: 2}, []playStep{
			{ms(500), 'o', "a"}, {ms(250), 'i', "k"}, {ms(250), 'o', "b"}, {ms(5000), 'r', ""}, {ms(500), 'o', "c"}}},
		{"idle limit caps pauses before speed", PlayOptions{Speed: 2, IdleLimit: 2 * time.Second}, []playStep{
			{ms(500), 'o', "a"}, {ms(250), 'i', "k"}, {ms(250), 'o', "b"}, {ms(1000), 'r', ""}, {ms(500), 'o', "c"}}},
		{"from skips instantly", PlayOptions{From: 1800 * time.Millisecond}, []playStep{
			{0, 'o', "a"}, {0, 'i', "k"}, {ms(200), 'o', "b"}, {ms(10000), 'r', ""}, {ms(1000), 'o', "c"}}},
		{"from past the end", PlayOptions{From: time.Hour}, []playStep{
			{0, 'o', "a"}, {0, 'i', "k"}, {0, 'o', "b"}, {0, 'r', ""}, {0, 'o', "c"}}},
		{"bad options fall back", PlayOptions{Speed: -3, IdleLimit: -1, From: -5}, []playStep{
			{ms(1000), 'o', "a"}, {ms(500), 'i', "k"}, {ms(500), 'o', "b"}, {ms(10000), 'r', ""}, {ms(1000), 'o', "c"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPlayer(bytes.NewReader(record(t, testHeader, session)), c.opt)
			if err != nil {
				t.Fatal(err)
			}
			if p.Header().Width != testHeader.Width {
				t.Fatalf("header %+v", p.Header())
			}
			got := play(t, p)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("step %d: got %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestPlayerControls(t *testing.T) {
	session := []step{out(1000, "a"), out(2000, "b"), out(10000, "c"), out(11000, "d"), resize(12000, 90, 30)}
	p, err := NewPlayer(bytes.NewReader(record(t, testHeader, session)), PlayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := func() Step {
		t.Helper()
		st, err := p.Next()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := next(); st.Wait != ms(1000) || p.Position() != ms(1000) {
		t.Fatalf("first step %+v at %v", st, p.Position())
	}
	p.SetSpeed(4)
	p.SetSpeed(0) // ignored
	if st := next(); st.Wait != ms(250) || p.Speed() != 4 {
		t.Fatalf("after SetSpeed(4): %+v", st)
	}
	p.SkipTo(10500 * time.Millisecond) // jump forward: "c" comes at once
	if st := next(); st.Wait != 0 || string(st.Data) != "c" {
		t.Fatalf("after SkipTo: %+v", st)
	}
	if st := next(); st.Wait != ms(125) || string(st.Data) != "d" {
		t.Fatalf("after the skip point: %+v", st)
	}
	p.SkipTo(time.Second) // backwards: no effect
	if st := next(); st.Wait != ms(250) || st.Cols != 90 || st.Rows != 30 {
		t.Fatalf("resize step: %+v", st)
	}
	if _, err := p.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestPlayerCastAndErrors(t *testing.T) {
	cast := "{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.5, \"o\", \"x\"]\n[0.25, \"o\", \"back in time\"]\n[1.5, \"r\", \"bad\"]\n"
	p, err := NewPlayer(strings.NewReader(cast), PlayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Next(); err != nil || st.Wait != ms(500) {
		t.Fatalf("first: %+v %v", st, err)
	}
	if st, err := p.Next(); err != nil || st.Wait != 0 {
		t.Fatalf("time going back must not wait: %+v %v", st, err)
	}
	if _, err := p.Next(); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("bad resize: %v", err)
	}
	if _, err := NewPlayer(strings.NewReader("junk"), PlayOptions{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("junk: %v", err)
	}
}
