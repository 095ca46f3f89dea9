package auth

import "testing"

func TestMemoryStoreConformance(t *testing.T) {
	testStoreConformance(t, func(t *testing.T) Store { return NewMemoryStore() })
}
