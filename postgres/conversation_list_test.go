package postgres_test

import (
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

// FuzzListCursor feeds untrusted cursors to the parser: it must refuse
// with EINVALID or accept a cursor that encodes back to itself.
func FuzzListCursor(f *testing.F) {
	for _, s := range []string{"", "MTcwMDAwMDAwMDAwMDAwMDphYmM", "!!", "OmFiYw", "MTp4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := postgres.ReencodeCursor(s)
		if err != nil {
			if courier.ErrorCode(err) != courier.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		again, err := postgres.ReencodeCursor(out)
		if err != nil || again != out {
			t.Fatalf("%q encodes to %q, which encodes to %q (%v)", s, out, again, err)
		}
	})
}
