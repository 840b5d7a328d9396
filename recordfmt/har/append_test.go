package har

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
)

// stdJSON is what encoding/json writes for v without HTML escaping.
func stdJSON(t testing.TB, v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func checkAppend(t testing.TB, e *Entry) {
	t.Helper()
	want, werr := stdJSON(t, e)
	got, gerr := appendEntry(nil, e)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("errors: appendEntry %v, encoding/json %v", gerr, werr)
	}
	if werr == nil && !bytes.Equal(got, want) {
		t.Fatalf("appendEntry wrote\n%s\nencoding/json\n%s", got, want)
	}
}

// fill sets every field of v to a value that is not empty: strings
// with bytes JSON must escape, numbers, true, slices of two, pointers.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString([]string{"a\"b\\c\n\t\x01<&>", "é\u2028\u2029\xff", "plain"}[*n%3] + string(rune('A'+*n%26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Float64:
		v.SetFloat([]float64{0.5, 1e-7, 1e21, -1, 123456.789, 3}[*n%6])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), n)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n)
		v.Set(p)
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// TestAppendEntryMatchesEncodingJSON checks the hand-written encoder
// against encoding/json: on the sample entries, on the entries of the
// golden recording, on an entry with every field set and on the same
// with every field empty.
func TestAppendEntryMatchesEncodingJSON(t *testing.T) {
	var entries []*Entry
	entries = append(entries, sampleEntries()...)
	f, err := os.Open("testdata/session.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, MaxLineSize)
	for sc.Scan() {
		e := new(Entry)
		if err := json.Unmarshal(sc.Bytes(), e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	full := new(Entry)
	n := 0
	fill(reflect.ValueOf(full).Elem(), &n)
	entries = append(entries, full, new(Entry))
	for i, e := range entries {
		checkAppend(t, e)
		normalize(e)
		checkAppend(t, e)
		if t.Failed() {
			t.Fatalf("entry %d", i)
		}
	}
	bad := &Entry{Time: math.NaN()}
	if _, err := appendEntry(nil, bad); err == nil {
		t.Fatal("NaN encoded")
	}
}

// FuzzAppendEntry checks appendEntry against encoding/json on entries
// decoded from arbitrary lines.
func FuzzAppendEntry(f *testing.F) {
	f.Add([]byte(`{"startedDateTime":"x","time":1e-7,"request":{"method":"GET","url":"http://a/?x=1","cookies":[{"name":"a","value":"b","httpOnly":true}],"headers":null,"postData":{"mimeType":"a","params":[{"name":"p","fileName":"f"}]}},"response":{"status":200,"content":{"size":2,"compression":3,"mimeType":"text/plain","text":"h\u2028i"}},"timings":{"send":0,"wait":1e21,"receive":-0.5,"comment":"c"},"_conn":1,"_t":0,"_webSocket":{"bytesUp":1},"_webSocketMessages":[{"type":"send","time":1.5,"opcode":1,"data":"<&>"}]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e := new(Entry)
		if json.Unmarshal(line, e) != nil {
			return
		}
		checkAppend(t, e)
	})
}

// FuzzAppendString checks strings (any bytes) and numbers against
// encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\x7f", "\xff\xfe", "é\u2028\u2029", "<&>", "\xe2\x80"} {
		f.Add(s, 1.5)
	}
	for _, v := range []float64{0.001, 0.123, 12.5, -1, 999999999.999, 1e9, 0.0005, 1234.567, -0.25, 3.0000000001, math.Copysign(0, -1)} {
		f.Add("x", v)
	}
	f.Add("x", 1e-7)
	f.Add("x", -1e21)
	f.Add("x", 0.000001)
	f.Fuzz(func(t *testing.T, s string, v float64) {
		want, _ := stdJSON(t, s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: appendString %s, encoding/json %s", s, got, want)
		}
		want, werr := stdJSON(t, v)
		a := appender{}
		a.float(v)
		if (werr != nil) != (a.err != nil) || (werr == nil && !bytes.Equal(a.b, want)) {
			t.Fatalf("%v: appender %s (%v), encoding/json %s (%v)", v, a.b, a.err, want, werr)
		}
	})
}

// TestAppendMillis checks the shortcut for whole thousandths against
// strconv on many of them.
func TestAppendMillis(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200000 {
		k := rng.Int64N(2e12) - 1e12
		if i%2 == 0 {
			k = rng.Int64N(2e6) - 1e6
		}
		f := float64(k) / 1000
		want := strconv.AppendFloat(nil, f, 'f', -1, 64)
		got, ok := appendMillis(nil, f)
		if ok && !bytes.Equal(got, want) {
			t.Fatalf("%d/1000: %s, strconv %s", k, got, want)
		}
	}
}
