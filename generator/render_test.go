package generator

import "testing"

func TestHandlerFileName(t *testing.T) {
	for tag, want := range map[string]string{
		"pets":          "pets.go",
		"Pet Store":     "pet_store.go",
		"Admin Windows": "admin_windows_ops.go",
		"amd64":         "amd64_ops.go",
		"load test":     "load_test_ops.go",
		"handlers":      "tag_handlers.go",
		"Verifiers":     "tag_verifiers.go",
	} {
		if got := handlerFileName(tag); got != want {
			t.Errorf("handlerFileName(%q) = %q, want %q", tag, got, want)
		}
	}
}
