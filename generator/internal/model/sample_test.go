package model

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// TestSampleRequestsValidate checks that the requests built for the bank
// spec's operations pass the spec's own schemas, so generated tests that
// expect the handler to be reached are not refused by validation.
func TestSampleRequestsValidate(t *testing.T) {
	doc, err := spec.Load(context.Background(), "../../../specs/bank.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api, err := Build(doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range api.Operations {
		r := SampleRequest(doc.T, op)
		if !r.Valid {
			t.Errorf("%s %s: sample request does not validate: %+v", op.Method, op.Path, r)
		}
		if op.Path == "/accounts/{accountId}/transactions" && op.Method == "GET" && r.Path != "/accounts/3fa85f64-5717-4562-b3fc-2c963f66afa6/transactions" {
			t.Errorf("path = %q", r.Path)
		}
		if op.Path == "/statements/{year}" && r.Path != "/statements/2000" {
			t.Errorf("path = %q, want the minimum year", r.Path)
		}
		if op.Path == "/transfers" && r.Body != `{"amount":1,"from":"3fa85f64-5717-4562-b3fc-2c963f66afa6","to":"3fa85f64-5717-4562-b3fc-2c963f66afa6"}` {
			t.Errorf("body = %s", r.Body)
		}
	}
}

// TestSampleLargeInteger checks that a large integer example is written in
// decimal, not in the exponent form fmt gives a float64 (666486743 became
// "6.66486743e+08", which validation refuses as an integer).
func TestSampleLargeInteger(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData([]byte(`
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /monitor/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, format: int64, example: 666486743}}
        - {name: n, in: query, required: true, example: 1.5e+09, schema: {type: number}}
      responses: {"200": {description: ok}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := SampleRequest(doc, Operation{Method: "GET", Path: "/monitor/{id}"})
	if r.Path != "/monitor/666486743" || r.Query != "n=1500000000" {
		t.Errorf("path %q, query %q; want /monitor/666486743 and n=1500000000", r.Path, r.Query)
	}
}

func TestSampleIgnoresExamplesThatDoNotFit(t *testing.T) {
	s := &openapi3.Schema{Type: &openapi3.Types{"boolean"}, Example: "false"}
	if v := sampleValue(s, 0); v != true {
		t.Errorf("sample of a boolean with the example \"false\" = %#v, want true", v)
	}
	n := &openapi3.Schema{Type: &openapi3.Types{"integer"}, Default: "20 - incident_summary"}
	if v := sampleValue(n, 0); v == n.Default {
		t.Errorf("sample of an integer with a text default = %#v, want a number", v)
	}
}

// TestSamplePathParameters checks that a path parameter whose schema is an
// allOf of plain values gets a value that fits it, and that no path
// parameter is left empty: /accounts//seats reaches no route (the router
// redirects it), so the tests that expect 401 got 307 (cloudflare).
func TestSamplePathParameters(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData([]byte(`
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /accounts/{account_id}/seats/{seat}:
    get:
      parameters:
        - {name: account_id, in: path, required: true, schema: {$ref: '#/components/schemas/account_id'}}
        - {name: seat, in: path, required: true, schema: {type: array, items: {type: string}}}
      responses: {"200": {description: ok}}
components:
  schemas:
    identifier: {type: string, maxLength: 32, example: 023e105f4ecef8ad9ca31a8372d0c353}
    account_id:
      allOf:
        - $ref: '#/components/schemas/identifier'
        - example: 699d98642c564d2e855e9661899b7252
`))
	if err != nil {
		t.Fatal(err)
	}
	r := SampleRequest(doc, Operation{Method: "GET", Path: "/accounts/{account_id}/seats/{seat}"})
	if want := "/accounts/023e105f4ecef8ad9ca31a8372d0c353/seats/x"; r.Path != want {
		t.Errorf("path %q, want %q", r.Path, want)
	}
}
