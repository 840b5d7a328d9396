package output

import (
	"bytes"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	var b bytes.Buffer
	tw := NewTable(&b)
	tw.Header("USER", "STATUS", "ID")
	tw.Row("alice", "\x1b[1;32m● active\x1b[0m", "s1")
	tw.Row("bob-the-long", "completed", "")
	if err := tw.Render(); err != nil {
		t.Fatal(err)
	}
	want := "USER           STATUS      ID\n" +
		"alice          \x1b[1;32m● active\x1b[0m    s1\n" +
		"bob-the-long   completed\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestPrintJSONNilSlice(t *testing.T) {
	var b bytes.Buffer
	var none []string
	if err := Print(&b, JSON, none, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != "[]\n" {
		t.Fatalf("got %q", b.String())
	}
}

func TestHuman(t *testing.T) {
	cases := []struct{ got, want string }{
		{Bytes(0), "0 B"},
		{Bytes(1023), "1023 B"},
		{Bytes(1536), "1.5 KiB"},
		{Bytes(3 << 20), "3.0 MiB"},
		{Bytes(5 << 30), "5.0 GiB"},
		{Duration(45 * time.Second), "45s"},
		{Duration(2*time.Minute + 5*time.Second), "2m05s"},
		{Duration(time.Hour + 2*time.Minute + 3*time.Second + 400*time.Millisecond), "1h02m03s"},
		{Duration(-time.Second), "0s"},
		{Duration(50*time.Hour + 5*time.Minute), "2d02h05m"},
		{Labels(map[string]string{"z": "1", "env": "dev"}), "env=dev,z=1"},
		{Labels(nil), "-"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			if c.got != c.want {
				t.Fatalf("got %q, want %q", c.got, c.want)
			}
		})
	}
}

func TestFormatFlag(t *testing.T) {
	var f Format
	for _, tc := range []struct {
		in      string
		wantErr bool
	}{{"json", false}, {"table", false}, {"yaml", true}} {
		t.Run(tc.in, func(t *testing.T) {
			err := f.Set(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Set(%q) = %v", tc.in, err)
			}
		})
	}
}
