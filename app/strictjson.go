package app

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-json-experiment/json/jsontext"
)

// Huma validates a body as a map, where "username" and "USERNAME" are two
// keys, and then decodes it with encoding/json, which matches names ignoring
// case and lets the last of several equal keys win; invalid UTF-8 becomes
// U+FFFD on the way. So `{"username":"ok_name","USERNAME":"\u0430lice"}`
// was validated as one thing and stored as another. checkJSONBody closes
// that gap before Huma sees the body: it reads it once with a strict
// decoder (duplicate names and invalid UTF-8 are errors) and walks the
// operation's schema alongside, refusing every name the schema does not
// declare exactly. What passes reads the same to the validator and to the
// decoder.

// maxBodyErrors bounds the errors one problem document lists: a body of
// 80,000 unknown keys costs one pass over the body, not 80,000 entries.
const maxBodyErrors = 20

// checkJSONBody checks data against schema (resolving references through
// reg). It returns nil, or a 400 for a body that is not strict JSON, or a
// 422 naming each undeclared or case-variant field (at most maxBodyErrors).
func checkJSONBody(data []byte, schema *huma.Schema, reg huma.Registry) error {
	if !utf8.Valid(data) {
		return huma.Error400BadRequest("The request body is not valid UTF-8.")
	}
	w := &jsonWalker{dec: jsontext.NewDecoder(bytes.NewReader(data)), reg: reg}
	err := w.value(schema, "body")
	if err == nil && len(w.errs) < maxBodyErrors {
		// One JSON value and nothing after it.
		if _, err2 := w.dec.ReadToken(); !errors.Is(err2, io.EOF) {
			err = err2
			if err == nil {
				err = errTrailingData
			}
		}
	}
	if err != nil && !errors.Is(err, errEnoughErrors) {
		return syntaxProblem(err)
	}
	if len(w.errs) > 0 {
		return huma.Error422UnprocessableEntity("validation failed", w.errs...)
	}
	return nil
}

var (
	errEnoughErrors = errors.New("enough errors")
	errTrailingData = errors.New("data after the JSON value")
)

// syntaxProblem turns a decoding error into a 400 that says where the body
// went wrong without quoting any of it.
func syntaxProblem(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		if errors.Is(se.Err, jsontext.ErrDuplicateName) {
			return huma.Error400BadRequest("The request body names a field twice.", &huma.ErrorDetail{
				Location: "body" + pointerLocation(se.JSONPointer),
				Message:  "appears more than once",
			})
		}
		return huma.Error400BadRequest("The request body is not valid JSON (at byte " +
			strconv.FormatInt(se.ByteOffset, 10) + ").")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return huma.Error400BadRequest("The request body is not valid JSON: it ends too early.")
	}
	return huma.Error400BadRequest("The request body is not valid JSON.")
}

// pointerLocation writes a JSON pointer (/media_urls/2) the way Huma writes
// locations (.media_urls[2]).
func pointerLocation(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.ParseUint(tok, 10, 32); err == nil {
			b.WriteString("[" + tok + "]")
		} else {
			b.WriteString("." + tok)
		}
	}
	return b.String()
}

type jsonWalker struct {
	dec  *jsontext.Decoder
	reg  huma.Registry
	errs []error
}

// value reads one JSON value, checking the names of its objects against s
// (nil: anything goes, as for a value that is already refused).
func (w *jsonWalker) value(s *huma.Schema, loc string) error {
	s = w.resolve(s)
	tok, err := w.dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '{':
		for w.dec.PeekKind() != '}' {
			name, err := w.dec.ReadToken()
			if err != nil {
				return err
			}
			key := name.String()
			prop, err := w.property(s, key, loc)
			if err != nil {
				return err
			}
			if err := w.value(prop, loc+"."+key); err != nil {
				return err
			}
		}
	case '[':
		var items *huma.Schema
		if s != nil {
			items = s.Items
		}
		for i := 0; w.dec.PeekKind() != ']'; i++ {
			if err := w.value(items, loc+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	default:
		return nil // a scalar; Huma's validator checks its type and value
	}
	_, err = w.dec.ReadToken() // the closing } or ]
	return err
}

// property returns the schema of the member key of an object of schema s.
// A key s does not declare is recorded as an error; a key that differs from
// a declared one only in letter case is named as such, since that is the
// spelling encoding/json would otherwise have merged.
func (w *jsonWalker) property(s *huma.Schema, key, loc string) (*huma.Schema, error) {
	if s == nil || s.Type != huma.TypeObject {
		return nil, nil
	}
	if p, ok := s.Properties[key]; ok {
		return p, nil
	}
	msg := "unexpected property"
	for name := range s.Properties {
		if strings.EqualFold(name, key) {
			msg = "differs from the field " + strconv.Quote(name) + " only in letter case; field names are case-sensitive"
			break
		}
	}
	if msg == "unexpected property" {
		if extra, ok := s.AdditionalProperties.(*huma.Schema); ok {
			return extra, nil
		}
		if allowed, ok := s.AdditionalProperties.(bool); ok && allowed {
			return nil, nil
		}
	}
	w.errs = append(w.errs, &huma.ErrorDetail{Location: loc + "." + shortKey(key), Message: msg})
	if len(w.errs) >= maxBodyErrors {
		return nil, errEnoughErrors
	}
	return nil, nil
}

// shortKey is key as a location may quote it: a name of a few hundred
// kilobytes is the client's to remember, not ours to send back.
func shortKey(key string) string {
	const most = 64
	if len(key) <= most {
		return key
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	return key[:cut] + "…"
}

func (w *jsonWalker) resolve(s *huma.Schema) *huma.Schema {
	for s != nil && s.Ref != "" {
		s = w.reg.SchemaFromRef(s.Ref)
	}
	return s
}
