package fault_test

import (
	"errors"
	"testing"

	"github.com/crowdledger/crowdledger/internal/fault"
)

func TestFieldErrorUnwrap(t *testing.T) {
	errInvalid, errMissing := errors.New("invalid"), errors.New("missing")
	for _, tc := range []struct {
		name        string
		err         error
		wantInvalid bool
	}{
		{"invalid value", &fault.FieldError{Field: "amount", Err: errMissing, Kind: errInvalid}, true},
		{"names something missing", &fault.FieldError{Field: "account_id", Err: errMissing}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, errInvalid); got != tc.wantInvalid {
				t.Errorf("errors.Is(err, invalid) = %v, want %v", got, tc.wantInvalid)
			}
			if !errors.Is(tc.err, errMissing) {
				t.Error("the cause is not reachable")
			}
			var fe *fault.FieldError
			if !errors.As(tc.err, &fe) || fe.Field == "" || tc.err.Error() != fe.Field+": missing" {
				t.Errorf("Error() = %q", tc.err.Error())
			}
		})
	}
}
