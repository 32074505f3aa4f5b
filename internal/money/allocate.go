package money

import (
	"errors"
	"sort"

	"github.com/shopspring/decimal"
)

// ErrBadWeights is returned by Allocate for no weights, a negative weight or weights summing to zero.
var ErrBadWeights = errors.New("allocation weights must be non-negative with a positive sum")

// Allocate splits a into len(weights) parts proportional to the weights by
// the largest remainder method (Hamilton): each part first gets the floor of
// its exact share in minor units, then the minor units left over go one each
// to the parts with the largest fractional remainders, ties to the earlier
// part. The parts always sum to a exactly. Weights are decimals so that
// shares held and carry percentages can be used directly.
func (a Amount) Allocate(weights ...decimal.Decimal) ([]Amount, error) {
	if len(weights) == 0 {
		return nil, ErrBadWeights
	}
	total := decimal.Zero
	for _, w := range weights {
		if w.Sign() < 0 {
			return nil, ErrBadWeights
		}
		total = total.Add(w)
	}
	if total.Sign() == 0 {
		return nil, ErrBadWeights
	}
	minor := a.v.Shift(a.c.scale) // integer by construction
	neg := minor.Sign() < 0
	minor = minor.Abs()

	type share struct {
		i   int
		rem decimal.Decimal
	}
	parts := make([]decimal.Decimal, len(weights))
	shares := make([]share, len(weights))
	given := decimal.Zero
	for i, w := range weights {
		// q = floor(minor*w/total), r = minor*w mod total: exact integer arithmetic on decimals.
		num := minor.Mul(w)
		q, r := num.QuoRem(total, 0)
		if r.Sign() < 0 { // QuoRem truncates toward zero; num >= 0 so this does not happen
			q, r = q.Sub(decimal.NewFromInt(1)), r.Add(total)
		}
		parts[i] = q
		shares[i] = share{i: i, rem: r}
		given = given.Add(q)
	}
	left := minor.Sub(given).IntPart() // fewer than len(weights)
	sort.SliceStable(shares, func(x, y int) bool { return shares[x].rem.Cmp(shares[y].rem) > 0 })
	for k := int64(0); k < left; k++ {
		parts[shares[k].i] = parts[shares[k].i].Add(decimal.NewFromInt(1))
	}
	out := make([]Amount, len(parts))
	for i, p := range parts {
		v := p.Shift(-a.c.scale)
		if neg {
			v = v.Neg()
		}
		out[i] = Amount{v: v, c: a.c}
	}
	return out, nil
}
