package generator

import (
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

func TestSafelyTurnsALibraryPanicIntoALocatedError(t *testing.T) {
	err := safely("oapi-codegen", func() spec.Pos { return spec.Pos{File: "api.yaml", Line: 3, Col: 1} }, func() error {
		panic("assignment to entry in nil map\ngoroutine 1 [running]:")
	})
	if err == nil {
		t.Fatal("no error for a panic")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "api.yaml:3:1: internal error: oapi-codegen failed on this spec (assignment to entry in nil map); please report") {
		t.Errorf("message = %q", msg)
	}
	if strings.Contains(msg, "goroutine") || strings.Contains(msg, "\n") {
		t.Errorf("message carries a stack trace: %q", msg)
	}
}
