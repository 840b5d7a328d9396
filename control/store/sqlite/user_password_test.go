package sqlite_test

import (
	"testing"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/storetest"
)

func TestPasswordConformance(t *testing.T) {
	storetest.RunPasswords(t, func(t *testing.T) store.Store { return openTemp(t) })
}
