package cli

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/pkg/api"
)

func TestDevDemoDB(t *testing.T) {
	c, err := net.DialTimeout("tcp", devPGAddr, 300*time.Millisecond)
	if err != nil {
		if _, ok := devDemoDB(nil); ok {
			t.Fatal("a demo database without a server on " + devPGAddr)
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL on %s (CI=true: scripts/test starts it)", devPGAddr)
		}
		t.Skipf("no PostgreSQL on %s: only the absent case is checked", devPGAddr)
	}
	c.Close()
	r, ok := devDemoDB(nil)
	if !ok || r.Name != "pg" || r.Type != api.TypeDB || r.Address != devPGAddr || r.Labels["env"] != "dev" {
		t.Fatalf("demo database %+v %v", r, ok)
	}
	mine, err := agent.ParseResourceURL("pg", "tcp://127.0.0.1:5432")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := devDemoDB([]agent.ResourceConfig{mine}); ok {
		t.Fatal("the demo database replaced a --resource named pg")
	}
}
