// Package fault holds the error type every domain package uses to name the
// request field at fault, so the API maps one type to a problem's "field".
package fault

// FieldError is an error caused by one field of a request, naming it. It
// unwraps to its cause and, when set, to Kind: the owning package's
// invalid-request sentinel (such as ledger.ErrInvalid). A well-formed value
// that names something missing leaves Kind nil and unwraps to its cause only.
type FieldError struct {
	Field string
	Err   error
	Kind  error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap exposes the kind (if any) and the cause.
func (e *FieldError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}
