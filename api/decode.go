package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// decode reads exactly one JSON value into dst, strictly: the content type
// must be JSON, unknown fields are refused, and so is anything after the
// value. Each failure is a 4xx naming the field where it can.
func decode(c echo.Context, maxBytes int64, dst any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return problem(http.StatusUnsupportedMediaType, "unsupported_media_type", "", "Content-Type must be application/json")
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxBytes)
	raw, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem(http.StatusRequestEntityTooLarge, "body_too_large", "", fmt.Sprintf("body exceeds %d bytes", maxBytes))
		}
		return problem(http.StatusBadRequest, "malformed_json", "", "could not read body")
	}
	return decodeBytes(raw, dst)
}

// decodeOptional is decode for a body the route may go without: an empty
// body leaves dst as it is.
func decodeOptional(c echo.Context, maxBytes int64, dst any) error {
	if c.Request().ContentLength == 0 {
		return nil
	}
	return decode(c, maxBytes, dst)
}

// decodeBytes is decode without the HTTP parts; the fuzz target drives it.
func decodeBytes(raw []byte, dst any) error {
	// PostgreSQL text cannot hold NUL: refuse it here rather than fail later.
	if bytes.Contains(raw, []byte(`\u0000`)) {
		return problem(http.StatusBadRequest, "invalid_text", "", "strings must not contain the NUL character")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem(http.StatusBadRequest, "malformed_json", "", "body must hold exactly one JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return problem(http.StatusBadRequest, "malformed_json", "", fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		field := typ.Field
		return problem(http.StatusBadRequest, "invalid_type", field, fmt.Sprintf("%s must be %s, got %s", orBody(field), typeName(typ.Type.String()), typ.Value))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return problem(http.StatusBadRequest, "malformed_json", "", "body is empty or truncated")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem(http.StatusBadRequest, "unknown_field", field, fmt.Sprintf("unknown field %q", field))
	}
	var pe *problemError
	if errors.As(err, &pe) { // from a field type's UnmarshalJSON
		return pe
	}
	return problem(http.StatusBadRequest, "malformed_json", "", "malformed JSON")
}

func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

func typeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// pathID reads a uuid path parameter; a malformed one is a 400.
func pathID(c echo.Context, name string) (uuid.UUID, error) {
	id, err := parseUUID(c.Param(name))
	if err != nil {
		return uuid.Nil, problem(http.StatusBadRequest, "invalid_uuid", name, name+" must be a UUID in canonical form")
	}
	return id, nil
}

// parseUUID accepts only the canonical 36-character form: uuid.Parse also
// takes urn: and braced forms, which would let one id have several spellings.
func parseUUID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, errors.New("not a canonical uuid")
	}
	return uuid.Parse(s)
}

// bodyID reads a uuid from a request body field; "" is uuid.Nil (absent).
func bodyID(field, s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.Nil, nil
	}
	id, err := parseUUID(s)
	if err != nil {
		return uuid.Nil, problem(http.StatusBadRequest, "invalid_uuid", field, field+" must be a UUID in canonical form")
	}
	return id, nil
}
