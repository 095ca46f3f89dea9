package model

import (
	"reflect"
	"testing"
)

func TestParseSecurityReadsWhatStringWrote(t *testing.T) {
	for _, sec := range []Security{
		{},
		{Alternatives: []Requirement{{}}},
		{Alternatives: []Requirement{{}, {{Scheme: "bearer"}}}},
		{Alternatives: []Requirement{{{Scheme: "oauth2", Scopes: []string{"accounts:read", "a|b", "x]"}}}, {{Scheme: "apiKey"}}}},
		{Alternatives: []Requirement{{{Scheme: "bearer"}, {Scheme: "key.v2-x_y", Scopes: []string{"+", "["}}}}},
	} {
		got, err := ParseSecurity(sec.String())
		if err != nil {
			t.Errorf("ParseSecurity(%q): %v", sec, err)
			continue
		}
		if !reflect.DeepEqual(got, sec) {
			t.Errorf("ParseSecurity(%q) = %#v, want %#v", sec, got, sec)
		}
	}
}

func TestParseSecurityRefusesWhatStringCannotWrite(t *testing.T) {
	for _, s := range []string{"", "bearer |", "a b", "a[", "a[]", "a[x", "a[x\"]", "a + ", "{} + a"} {
		if sec, err := ParseSecurity(s); err == nil {
			t.Errorf("ParseSecurity(%q) = %#v, want an error", s, sec)
		}
	}
}

func TestSameCallersIgnoresOrderOnly(t *testing.T) {
	bearer := Requirement{{Scheme: "bearer"}}
	key := Requirement{{Scheme: "apiKey"}}
	read := Requirement{{Scheme: "oauth2", Scopes: []string{"read"}}}
	ab := Security{Alternatives: []Requirement{bearer, key}}
	if !ab.SameCallers(Security{Alternatives: []Requirement{key, bearer}}) {
		t.Error("reordered alternatives count as a change")
	}
	for _, other := range []Security{
		{},
		{Alternatives: []Requirement{bearer}},
		{Alternatives: []Requirement{{}, bearer, key}},
		{Alternatives: []Requirement{append(bearer, key[0])}},
		{Alternatives: []Requirement{read, key}},
	} {
		if ab.SameCallers(other) || other.SameCallers(ab) {
			t.Errorf("%s and %s have the same callers", ab, other)
		}
	}
}

func TestCompareSecurityListsChangedRoutesInOperationOrder(t *testing.T) {
	public := Security{}
	bearer := Security{Alternatives: []Requirement{{{Scheme: "bearer"}}}}
	old := map[string]Security{
		"GET /b":    public,
		"DELETE /a": public,
		"GET /a":    public,
		"PUT /gone": public,
		"GET /same": bearer,
	}
	new := map[string]Security{
		"GET /b":    bearer,
		"DELETE /a": bearer,
		"GET /a":    bearer,
		"GET /new":  bearer,
		"GET /same": bearer,
	}
	var got []string
	for _, c := range CompareSecurity(old, new) {
		got = append(got, c.String())
	}
	want := []string{"GET /a: public → bearer", "DELETE /a: public → bearer", "GET /b: public → bearer"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CompareSecurity = %q, want %q", got, want)
	}
}
