package agent

import (
	"bytes"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"10GiB", 10 << 30, false},
		{"512MiB", 512 << 20, false},
		{"1.5 GiB", 3 << 29, false},
		{"500MB", 500e6, false},
		{"4096", 4096, false},
		{"0", 0, false},
		{"10 gib", 10 << 30, false},
		{"", 0, true},
		{"lots", 0, true},
		{"-1GiB", 0, true},
		{"5XB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.bad)
			}
		})
	}
}

func TestSpoolLimitSetting(t *testing.T) {
	tests := []struct {
		yaml string
		want int64
		bad  bool
	}{
		{"spool_limit: 2GiB\n", 2 << 30, false},
		{"spool_limit: 0\n", -1, false},
		{"name: x\n", 0, false},
		{"spool_limit: huge\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			fc, err := ParseConfig([]byte(tt.yaml))
			if (err != nil) != tt.bad || (!tt.bad && fc.SpoolLimit != tt.want) {
				t.Fatalf("spool limit %d, %v; want %d (error %v)", fc.SpoolLimit, err, tt.want, tt.bad)
			}
		})
	}
}

func TestSigningKeyIsCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	k1, err := loadSigningKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadSigningKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("signing key changed between starts")
	}
	if len(signingPublic(k1)) != 44 {
		t.Fatalf("public key %q is not 32 bytes of base64", signingPublic(k1))
	}
}
