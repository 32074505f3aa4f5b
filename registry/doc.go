// Package registry stores what package compliance decides: parties
// (investors and issuers) with their encrypted identities and real-name
// verification, qualification decisions, related-party declarations, and
// the red and black lists. Gate runs the pre-commitment check inside the
// caller's transaction, with the rows that make it race-free locked.
//
// Personal data never leaves this package unmasked except through Reveal,
// which records who looked, when and why in the audit trail.
package registry
