package memory

import (
	"testing"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New() })
}
