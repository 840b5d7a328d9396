package ssh

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/onepam/onepam/pkg/api"
)

func TestParseSCPCommand(t *testing.T) {
	tests := []struct {
		cmd  string
		want *scpCommand
	}{
		{cmd: "scp -t /tmp/x", want: &scpCommand{sink: true, path: "/tmp/x"}},
		{cmd: "scp -v -r -p -d -t -- '/tmp/a b'", want: &scpCommand{sink: true, path: "/tmp/a b", dirTarget: true, recursive: true}},
		{cmd: "/usr/bin/scp -f \"dir/f\\\"q\"", want: &scpCommand{path: `dir/f"q`}},
		{cmd: "scp -pf x", want: &scpCommand{path: "x"}},
		{cmd: "scp -t", want: nil},
		{cmd: "scp -t -f x", want: nil},
		{cmd: "scp x y", want: nil},
		{cmd: "scp -t a b", want: nil},
		{cmd: "scp -t $(rm -rf /)", want: nil},
		{cmd: "echo scp -t x", want: nil},
		{cmd: "scp -t 'unterminated", want: nil},
		{cmd: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			if got := parseSCPCommand(tt.cmd); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// runSCP feeds stream to a transfer of cmd in chunks of size chunk and
// returns the reported events.
func runSCP(cmd string, stream []byte, chunk int) []api.FileEvent {
	var evs []api.FileEvent
	tr := newSCPTransfer(parseSCPCommand(cmd), func(ev api.FileEvent) { evs = append(evs, ev) })
	feed := tr.fromTarget
	if tr.cmd.sink {
		feed = tr.toTarget
	}
	for len(stream) > 0 {
		n := min(chunk, len(stream))
		feed(stream[:n])
		stream = stream[n:]
	}
	tr.finish(0)
	return evs
}

func TestSCPParser(t *testing.T) {
	file := func(name, data string) string { return "C0644 " + itoa(len(data)) + " " + name + "\n" + data + "\x00" }
	tests := []struct {
		name, cmd, stream string
		want              []api.FileEvent
	}{
		{name: "upload to a file name", cmd: "scp -t /srv/new.txt", stream: file("local.txt", "hello"),
			want: []api.FileEvent{{Op: "upload", Path: "/srv/new.txt", Bytes: 5}}},
		{name: "upload into a directory", cmd: "scp -d -t /srv", stream: file("a", "1") + file("b", "22"),
			want: []api.FileEvent{{Op: "upload", Path: "/srv/a", Bytes: 1}, {Op: "upload", Path: "/srv/b", Bytes: 2}}},
		{name: "upload to home", cmd: "scp -t .", stream: file("a", ""),
			want: []api.FileEvent{{Op: "upload", Path: "a", Bytes: 0}}},
		{name: "recursive upload with times", cmd: "scp -r -p -t /dst",
			stream: "D0755 0 top\nT1700000000 0 1700000000 0\n" + file("f", "abc") + "D0700 0 sub\n" + file("g", "xy") + "E\nE\n",
			want:   []api.FileEvent{{Op: "upload", Path: "/dst/top/f", Bytes: 3}, {Op: "upload", Path: "/dst/top/sub/g", Bytes: 2}}},
		{name: "download", cmd: "scp -f /etc/hostname", stream: file("hostname", "box\n"),
			want: []api.FileEvent{{Op: "download", Path: "/etc/hostname", Bytes: 4}}},
		{name: "download glob", cmd: "scp -f /var/log/*.log", stream: file("a.log", "1") + file("b.log", "2"),
			want: []api.FileEvent{{Op: "download", Path: "/var/log/a.log", Bytes: 1}, {Op: "download", Path: "/var/log/b.log", Bytes: 1}}},
		{name: "download error", cmd: "scp -f /nope", stream: "\x01scp: /nope: No such file or directory\n",
			want: []api.FileEvent{{Op: "download", Path: "/nope", Result: "error", Error: "scp: /nope: No such file or directory"}}},
		{name: "read error after data", cmd: "scp -f /f", stream: "C0644 3 f\nabc\x01scp: /f: read error\n",
			want: []api.FileEvent{{Op: "download", Path: "/f", Bytes: 3, Result: "error", Error: "scp: /f: read error"}}},
		{name: "cut short", cmd: "scp -t /f", stream: "C0644 10 f\nabc",
			want: []api.FileEvent{{Op: "upload", Path: "/f", Bytes: 3, Result: "error", Error: "transfer cut short"}}},
		{name: "not the protocol", cmd: "scp -t /f", stream: "hello world\nC0644 1 f\nx\x00", want: nil},
		{name: "name with a slash", cmd: "scp -t /f", stream: "C0644 1 ../../etc/passwd\nx\x00", want: nil},
		{name: "negative size", cmd: "scp -t /f", stream: "C0644 -1 f\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 3, 1 << 20} {
				got := runSCP(tt.cmd, []byte(tt.stream), chunk)
				for i := range tt.want {
					tt.want[i].Protocol = "scp"
					if tt.want[i].Result == "" {
						tt.want[i].Result = "ok"
					}
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("chunk %d:\ngot  %+v\nwant %+v", chunk, got, tt.want)
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzSCPParser checks that any stream, cut anywhere, parses without
// panicking, gives the same events however it is chunked, and never
// counts more file bytes than it was fed.
func FuzzSCPParser(f *testing.F) {
	f.Add([]byte("C0644 5 a\nhello\x00"), uint8(1), true)
	f.Add([]byte("D0755 0 d\nC0600 2 f\nxy\x00E\n"), uint8(2), true)
	f.Add([]byte("\x01scp: x: no such file\n"), uint8(7), false)
	f.Add([]byte("T1 0 1 0\nC0644 3 f\nab"), uint8(0), false)
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8, sink bool) {
		cmd := "scp -r -f /src/x"
		if sink {
			cmd = "scp -r -t /dst"
		}
		whole := runSCP(cmd, stream, len(stream)+1)
		cut := runSCP(cmd, stream, int(chunk)+1)
		if !reflect.DeepEqual(whole, cut) {
			t.Fatalf("chunking changed the events:\n%+v\n%+v", whole, cut)
		}
		var total int64
		for _, ev := range whole {
			if ev.Path == "" || ev.Bytes < 0 {
				t.Fatalf("bad event %+v", ev)
			}
			total += ev.Bytes
		}
		if total > int64(len(stream)) {
			t.Fatalf("%d file bytes reported from a %d-byte stream", total, len(stream))
		}
	})
}
