// Package compliance holds crowdfunding's gatekeeping rules as pure, dated,
// cited data and functions: identity document checks, investor
// qualification under each jurisdiction's rule pack, suitability, and the
// pre-commitment check. It imports no database, HTTP or logging package;
// the registry package stores what these functions decide.
//
// # Sources
//
// Every threshold lives in a dated RulePack (packs.go) with the legal text it
// comes from. Figures that could not be verified against the primary text
// (tagged [R] in shared/research/crowdfunding-rules.md) say so in their
// citation and are data, not constants, so they can be corrected by adding a
// new dated version without touching the rules.
//
//   - CN-2014: Securities Association of China, 私募股权众筹融资管理办法（试行）
//     （征求意见稿）, 18 Dec 2014, arts. 14 (qualified investors), 12 (200 investors).
//   - CN-2015: the January 2015 revision as reported (上海证券报, 2015-01-26).
//   - US-REGCF: 17 CFR 227.100 (issuer cap and investor limits), 227.304
//     (cancellation), with the 2016, 2017, 2021 and 2022 figures.
//   - EU-ECSP: Regulation (EU) 2020/1503, arts. 21-22 and Annex II.
//
// # Invariants
//
// A decision records the pack id and version it used, so it can be replayed.
// Limits are exact at their boundaries: at the limit is allowed, one minor
// unit above is refused. A refusal lists every reason, not just the first.
package compliance
