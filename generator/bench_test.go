package generator_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-go/gatehouse/generator"
)

// corpusSpec returns the path of a corpus spec, skipping when the corpus is
// not beside the repository.
func corpusSpec(b testing.TB, name string) string {
	dir := os.Getenv("GATEHOUSE_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus", "specs")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		b.Skipf("corpus spec %s not available", p)
	}
	return p
}

// BenchmarkGenerate measures a whole in-memory generation of a project.
func BenchmarkGenerate(b *testing.B) {
	for _, name := range []string{"swagger-petstore-v3-openapi.yaml", "discord-openapi.json", "stripe-spec3-2023-09.yaml"} {
		p := corpusSpec(b, name)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := generator.Generate(context.Background(), generator.Options{SpecPath: p, Module: "example.com/x"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
