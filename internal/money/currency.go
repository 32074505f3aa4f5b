// Package money holds exact amounts of ISO 4217 currencies. It depends only on
// shopspring/decimal: no floats, no rounding unless a caller asks for it by name.
package money

import (
	"errors"
	"fmt"
	"sort"
)

// Currency is an ISO 4217 currency with its minor unit (the number of decimal
// places an amount may carry). TigerBeetle calls this the asset scale: once
// amounts exist in a currency its scale must never change.
type Currency struct {
	code  string
	scale int32
}

// ErrUnknownCurrency is returned for a code that is not in the supported table.
var ErrUnknownCurrency = errors.New("unknown currency")

// currencies is the supported subset of ISO 4217 (minor units from the
// standard's list one, as published by SIX). The migrations seed the same
// table into PostgreSQL; a test checks that the two agree.
var currencies = map[string]int32{
	"AUD": 2, "BHD": 3, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2,
	"DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "INR": 2,
	"ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MOP": 2, "MXN": 2,
	"MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "SEK": 2,
	"SGD": 2, "THB": 2, "TND": 3, "TWD": 2, "USD": 2, "VND": 0, "ZAR": 2,
}

// Lookup returns the currency for an ISO 4217 alphabetic code. Codes are
// case-sensitive: "cny" is not a currency code.
func Lookup(code string) (Currency, error) {
	scale, ok := currencies[code]
	if !ok {
		return Currency{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, code)
	}
	return Currency{code: code, scale: scale}, nil
}

// MustLookup is Lookup for codes known at compile time; it panics on an unknown code.
func MustLookup(code string) Currency {
	c, err := Lookup(code)
	if err != nil {
		panic(err)
	}
	return c
}

// Currencies lists every supported currency, sorted by code.
func Currencies() []Currency {
	out := make([]Currency, 0, len(currencies))
	for code, scale := range currencies {
		out = append(out, Currency{code: code, scale: scale})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].code < out[j].code })
	return out
}

// Code is the ISO 4217 alphabetic code.
func (c Currency) Code() string { return c.code }

// Scale is the number of minor-unit decimal places (CNY 2, JPY 0, KWD 3).
func (c Currency) Scale() int32 { return c.scale }

// IsZero reports whether c is the zero Currency (no currency at all).
func (c Currency) IsZero() bool { return c.code == "" }

func (c Currency) String() string { return c.code }
