package auth

import "github.com/crowdledger/crowdledger/audit"

// Issuance says how a key of some role may come to exist when a key holder
// asks the API for it.
type Issuance int

// The ways a key may be issued through the API.
const (
	// Refused: the asking role may not mint this role at all.
	Refused Issuance = iota
	// Direct: the asking key mints it at once.
	Direct
	// SecondOfficer: the request waits for a second compliance officer,
	// another person than the one asking and the one the key is for.
	SecondOfficer
)

func (i Issuance) String() string {
	switch i {
	case Direct:
		return "direct"
	case SecondOfficer:
		return "second_officer"
	}
	return "refused"
}

// MayIssue is the key-issuance policy, the one place that says which role
// may mint which through the API:
//
//	asking \ minting   investor  issuer  compliance       operator  regulator
//	operator           direct    direct  refused          refused   refused
//	compliance         direct    direct  second officer   refused   refused
//	issuer, investor,  refused   refused refused          refused   refused
//	regulator
//
// Operator and regulator keys, and a platform's first compliance keys, come
// only from `crowdledger keys create`, run by an administrator on the host:
// whoever can run it can already read the database, so it adds no power.
// Party keys (investor, issuer) name a registered party; the back office
// that onboards a party hands it its key, and gains nothing by it that its
// own routes do not already allow.
func MayIssue(asking, minting Role) Issuance {
	switch {
	case minting.Scoped() && (asking == Operator || asking == Compliance):
		return Direct
	case minting == Compliance && asking == Compliance:
		return SecondOfficer
	}
	return Refused
}

// Person names the human or legal person behind a key (audit.Actor.Person
// says how), the same for every key they hold.
func (p Principal) Person() string {
	return audit.Actor{KeyID: p.KeyID, Role: string(p.Role), Subject: p.Subject}.Person()
}
