package model

import (
	"context"
	"testing"

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
