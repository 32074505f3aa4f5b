package api

import (
	"encoding/json"
	"errors"
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

// createKey lets the back office issue keys to the platform's users:
// investors, issuers and compliance staff. Operator and regulator keys are
// issued only from the command line, by whoever runs the service.
func (s *server) createKey(c echo.Context) error {
	var req createKeyRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil || role == auth.Operator || role == auth.Regulator {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "role", "role must be investor, issuer or compliance")
	}
	if role.Scoped() {
		if _, err := s.Registry.Party(c.Request().Context(), mustUUID(req.Subject)); err != nil {
			return problem(http.StatusUnprocessableEntity, "party_not_found", "subject", "subject must be a registered party's id")
		}
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(time.Now()) {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "expires_at", "expires_at must be in the future")
	}
	p, token, err := s.KeyStore.Create(c.Request().Context(), role, req.Subject, req.Name, req.ExpiresAt)
	if errors.Is(err, auth.ErrSubjectRequired) {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "subject", "issuer and investor keys need a subject")
	}
	if err != nil {
		return err // the database's own words stay in the log
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	// A retry gets the key's id, not the secret: only its hash is stored
	// anywhere. A client that lost the first answer revokes the key.
	withheld, err := json.Marshal(map[string]any{"key_id": p.KeyID.String(), "role": string(p.Role), "subject": p.Subject, "key_withheld": true})
	if err != nil {
		return err
	}
	keepInstead(c, append(withheld, '\n'))
	return c.JSON(http.StatusCreated, map[string]string{"key_id": p.KeyID.String(), "role": string(p.Role), "subject": p.Subject, "key": token})
}

func mustUUID(s string) (id [16]byte) {
	u, err := parseUUID(s)
	if err != nil {
		return id
	}
	return u
}
