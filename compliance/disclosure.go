package compliance

import (
	"crypto/sha256"
	"encoding/hex"
)

// RiskDisclosure is a versioned risk-disclosure letter (投资风险揭示书) an
// investor must acknowledge, by its SHA-256, before each equity commitment
// under a pack that asks for one. A new version is a new text and a new
// hash: commitments keep the hash they acknowledged.
type RiskDisclosure struct {
	Version string
	Title   string
	Text    string
	Cite    string
}

// SHA256 is the hex digest the investor acknowledges.
func (d RiskDisclosure) SHA256() string {
	sum := sha256.Sum256([]byte(d.Text))
	return hex.EncodeToString(sum[:])
}

// cnRiskDisclosure is the letter the CN packs ask for. The 2014 draft rules
// (art. 21) ask each investor to sign a risk disclosure; its wording is the
// platform's, versioned here.
var cnRiskDisclosure = RiskDisclosure{
	Version: "2015-01",
	Title:   "股权众筹投资风险揭示书",
	Cite:    "SAC draft 2014 art. 21 (投资者应当签署风险揭示书) [R: wording is the platform's]",
	Text: `股权众筹投资风险揭示书（2015-01 版）

一、股权众筹投资属于高风险投资。融资者多为初创企业，经营存在很大不确定性，投资者可能损失全部本金。
二、股权众筹项目的股权流动性差，在相当长的期限内可能无法转让或退出。
三、投资者的收益取决于融资者的经营成果，平台不对任何项目的收益作出承诺或保证。
四、融资者披露的信息可能不完整或不准确；投资者应当独立判断，审慎决策。
五、领投人的投资决定不构成对跟投人的投资建议，跟投人应当自行承担投资风险。
六、投资者应当以自有资金投资，并确认自身符合合格投资者条件、具有相应的风险识别和承受能力。
七、投资冷静期内投资者可以撤回投资；冷静期届满后，投资不可撤回。

本人已阅读并理解上述风险，自愿承担投资风险。`,
}
