package auth

import (
	"testing"

	"github.com/google/uuid"
)

func TestMayIssue(t *testing.T) {
	d, s, r := Direct, SecondOfficer, Refused
	// rows: asking role; columns: operator, compliance, issuer, investor, regulator (Roles order)
	want := map[Role][5]Issuance{
		Operator:   {r, r, d, d, r},
		Compliance: {r, s, d, d, r},
		Issuer:     {r, r, r, r, r},
		Investor:   {r, r, r, r, r},
		Regulator:  {r, r, r, r, r},
	}
	for asking, row := range want {
		for i, minting := range Roles() {
			if got := MayIssue(asking, minting); got != row[i] {
				t.Errorf("%s minting %s: %s, want %s", asking, minting, got, row[i])
			}
		}
	}
}

func TestPersonIsTheSubjectNotTheKey(t *testing.T) {
	k1, k2 := uuid.New(), uuid.New()
	for _, tc := range []struct {
		a, b Principal
		same bool
	}{
		{Principal{KeyID: k1, Role: Operator, Subject: "alice"}, Principal{KeyID: k2, Role: Compliance, Subject: "alice"}, true},
		{Principal{KeyID: k1, Role: Compliance, Subject: "alice"}, Principal{KeyID: k2, Role: Compliance, Subject: "alice"}, true},
		{Principal{KeyID: k1, Role: Compliance, Subject: "alice"}, Principal{KeyID: k2, Role: Compliance, Subject: "bob"}, false},
		// A party and a staff member never coincide, whatever the strings.
		{Principal{KeyID: k1, Role: Issuer, Subject: "alice"}, Principal{KeyID: k2, Role: Compliance, Subject: "alice"}, false},
		// Keys without a subject are each their own person.
		{Principal{KeyID: k1, Role: Operator}, Principal{KeyID: k2, Role: Compliance}, false},
	} {
		if got := tc.a.Person() == tc.b.Person(); got != tc.same {
			t.Errorf("%s vs %s: same person %v, want %v", tc.a.Person(), tc.b.Person(), got, tc.same)
		}
	}
}
