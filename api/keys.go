package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/auth"
)

type createKeyRequest struct {
	Role      string     `json:"role"`
	Subject   string     `json:"subject"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// createKey issues a key as auth.MayIssue allows: party keys at once, a
// compliance key as a grant that a second compliance officer approves.
func (s *server) createKey(c echo.Context) error {
	var req createKeyRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "role", "role must be investor, issuer or compliance")
	}
	if req.Subject == "" {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "subject", "subject must name the party the key acts for, or the staff member who holds it")
	}
	if role.Scoped() {
		if _, err := s.Registry.Party(c.Request().Context(), mustUUID(req.Subject)); err != nil {
			return problem(http.StatusUnprocessableEntity, "party_not_found", "subject", "subject must be a registered party's id")
		}
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(time.Now()) {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "expires_at", "expires_at must be in the future")
	}
	out, err := s.KeyStore.Issue(c.Request().Context(), principal(c), auth.KeyRequest{Role: role, Subject: req.Subject, Name: req.Name, ExpiresAt: req.ExpiresAt})
	if err != nil {
		return err
	}
	if out.Grant != nil {
		return c.JSON(http.StatusAccepted, grantView(*out.Grant))
	}
	return s.issued(c, out)
}

// approveKeyGrant is the second compliance officer's approval; the key's
// secret is in the answer, once.
func (s *server) approveKeyGrant(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	out, err := s.KeyStore.Approve(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	return s.issued(c, out)
}

func (s *server) listKeyGrants(c echo.Context) error {
	gs, err := s.KeyStore.PendingGrants(c.Request().Context())
	if err != nil {
		return err
	}
	out := pageJSON[keyGrant]{Items: make([]keyGrant, 0, len(gs))}
	for _, g := range gs {
		out.Items = append(out.Items, grantView(g))
	}
	return c.JSON(http.StatusOK, out)
}

type keyGrant struct {
	ID          string     `json:"id"`
	State       string     `json:"state"`
	Role        string     `json:"role"`
	Subject     string     `json:"subject"`
	Name        string     `json:"name"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	ApprovedBy  *string    `json:"approved_by,omitempty"`
	KeyID       *string    `json:"key_id,omitempty"`
}

func grantView(g auth.Grant) keyGrant {
	out := keyGrant{ID: g.ID.String(), State: "pending", Role: string(g.Request.Role), Subject: g.Request.Subject, Name: g.Request.Name,
		ExpiresAt: g.Request.ExpiresAt, RequestedBy: g.RequestedBy, RequestedAt: g.RequestedAt.UTC(), ApprovedBy: g.ApprovedBy}
	if g.KeyID != nil {
		out.State, out.KeyID = "approved", new(g.KeyID.String())
	}
	return out
}

// issued answers with a new key's secret, which the idempotency store never
// keeps: a retry gets the key's id and key_withheld instead, and a client
// that lost the first answer revokes the key.
func (s *server) issued(c echo.Context, out auth.Issued) error {
	p := out.Key
	withheld, err := json.Marshal(map[string]any{"key_id": p.KeyID.String(), "role": string(p.Role), "subject": p.Subject, "key_withheld": true})
	if err != nil {
		return err
	}
	keepInstead(c, append(withheld, '\n'))
	return c.JSON(http.StatusCreated, map[string]string{"key_id": p.KeyID.String(), "role": string(p.Role), "subject": p.Subject, "key": out.Token})
}

func mustUUID(s string) (id [16]byte) {
	u, err := parseUUID(s)
	if err != nil {
		return id
	}
	return u
}

// keyJSON describes a key, never its secret (only its hash is stored).
type keyJSON struct {
	ID        string     `json:"id"`
	Role      string     `json:"role"`
	Subject   string     `json:"subject"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func toKey(k auth.Key) keyJSON {
	return keyJSON{ID: k.KeyID.String(), Role: string(k.Role), Subject: k.Subject, Name: k.Name, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

// listKeys lists API keys for operators and compliance.
func (s *server) listKeys(c echo.Context) error {
	q := newListQuery(c, "role", "subject")
	f := auth.KeyFilter{Role: auth.Role(q.str("role")), Subject: q.str("subject")}
	if err := q.Err(); err != nil {
		return err
	}
	if f.Role != "" {
		if _, err := auth.ParseRole(string(f.Role)); err != nil {
			return problem(http.StatusBadRequest, "invalid_parameter", "role", "role must be one of operator, compliance, issuer, investor, regulator")
		}
	}
	p, err := s.KeyStore.Keys(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, toKey)
}

// me says who the presented key is: its role, the party or staff member it
// acts for, and its name. A client (the console) shows what the role may
// use from it; the routes still decide.
func (s *server) me(c echo.Context) error {
	p := principal(c)
	return c.JSON(http.StatusOK, map[string]string{"key_id": p.KeyID.String(), "role": string(p.Role), "subject": p.Subject, "name": p.Name})
}
